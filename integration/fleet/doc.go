// Package fleet tests boshd as a fleet: three boshd nodes, each with its
// own cluster.node_id, behind a real HAProxy running the shipped
// deploy/haproxy.cfg (only its addresses come from the environment), in
// front of a real two-node ejabberd cluster, with each boshd node routed
// to one ejabberd node. The tests log in through HAProxy and check what
// docs/deploy.md promises: sessions spread over every node and chat
// across them, a killed node costs its own clients a prompt item-not-found
// (XEP-0124 §17.2, HTTP 200) and a fresh login elsewhere and costs the
// others nothing, and a drained node keeps its sessions until they end or
// its grace runs out while new logins go elsewhere.
//
// The packages needed are installed by scripts/install-deps.sh (haproxy,
// ejabberd).
package fleet
