package servers

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// process is one started server process and the goroutine that reaps it.
// The reaper is owned by the process: it ends when the process exits, and
// done is closed after it ends.
type process struct {
	pid  int
	cmd  *exec.Cmd
	done chan struct{} // closed when the process was reaped
	err  error         // exit status, valid after done
}

// startProcess runs name in its own process group with a parent-death
// signal (so a crashed test binary takes the server down too), stdout and
// stderr appended to consolePath.
func startProcess(name string, args, env []string, dir, consolePath string) (*process, error) {
	out, err := os.OpenFile(consolePath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	// The file is passed as is (not through a pipe), so no copying
	// goroutine is needed and no grandchild can hold a pipe open.
	defer out.Close()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", name, err)
	}
	p := &process{pid: cmd.Process.Pid, cmd: cmd, done: make(chan struct{})}
	go p.reap()
	return p, nil
}

// reap waits for the process to exit without reaping it (WNOWAIT), so that
// its process group ID cannot be reused yet, kills whatever is left in the
// group (port programs such as erl_child_setup), and only then reaps it.
func (p *process) reap() {
	defer close(p.done)
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, p.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	p.err = p.cmd.Wait()
}

// exited reports whether the process has exited and been reaped.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitErr is the exit status; call it only after exited is true.
func (p *process) exitErr() error {
	if p.err == nil {
		return errors.New("exit status 0")
	}
	return p.err
}

// signal sends sig to the process (not its group).
func (p *process) signal(sig syscall.Signal) error {
	if p.exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// kill sends SIGKILL to the whole process group and to every descendant
// (some, like Erlang's erl_child_setup and its port programs, run in
// sessions of their own), and waits until all of them are gone.
func (p *process) kill() error {
	var kids []procID
	if !p.exited() {
		kids = descendants(p.pid)
		if err := syscall.Kill(-p.pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
			return err
		}
	}
	<-p.done
	return reapDescendants(kids)
}

// procID names a process unambiguously: a PID plus its start time, so a
// recycled PID is never mistaken for the process it named.
type procID struct {
	pid   int
	start string
}

// procStat returns the state, parent PID and start time of pid from
// /proc/PID/stat (fields 3, 4 and 22; the command name before them is in
// parentheses and may contain spaces).
func procStat(pid int) (state byte, ppid int, start string, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, "", false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, "", false
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3
	if len(f) < 20 || f[0] == "" {
		return 0, 0, "", false
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, "", false
	}
	return f[0][0], ppid, f[19], true
}

// descendants lists every process below pid (children, grandchildren...).
func descendants(pid int) []procID {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]procID{}
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, ppid, start, ok := procStat(n); ok {
			children[ppid] = append(children[ppid], procID{n, start})
		}
	}
	var out []procID
	queue := []int{pid}
	for len(queue) > 0 {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
		queue = queue[1:]
	}
	return out
}

// alive reports whether the process named by id still exists (a zombie
// awaiting its new parent counts as gone).
func (id procID) alive() bool {
	state, _, start, ok := procStat(id.pid)
	return ok && start == id.start && state != 'Z'
}

// reapDescendants kills the listed processes that are still alive (once
// orphaned they would only exit when they notice their pipes closed) and
// waits until they are gone.
func reapDescendants(kids []procID) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		var left []int
		for _, k := range kids {
			if k.alive() {
				_ = syscall.Kill(k.pid, syscall.SIGKILL)
				left = append(left, k.pid)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v survived SIGKILL", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freePorts returns n distinct loopback TCP ports that were free a moment
// ago. They are held open together so the kernel hands out distinct ones.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// listenerOwnedBy reports whether an IPv4 TCP socket listens on port and
// whether that socket is one of pid's open files (Linux /proc). It tells
// our server's listener from one another process grabbed in between.
func listenerOwnedBy(pid, port int) (owned, listening bool, err error) {
	inodes, err := listeningInodes(port)
	if err != nil || len(inodes) == 0 {
		return false, false, err
	}
	fdDir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		return false, true, fmt.Errorf("list open files of pid %d: %w", pid, err)
	}
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if ino, ok := strings.CutPrefix(link, "socket:["); ok && inodes[strings.TrimSuffix(ino, "]")] {
			return true, true, nil
		}
	}
	return false, true, nil
}

// listeningInodes returns the socket inodes listening on port, from
// /proc/net/tcp ("local_address" is HEXIP:HEXPORT, state 0A is LISTEN).
func listeningInodes(port int) (map[string]bool, error) {
	fh, err := os.Open("/proc/net/tcp")
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	want := fmt.Sprintf(":%04X", port)
	inodes := map[string]bool{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != "0A" || !strings.HasSuffix(f[1], want) {
			continue
		}
		inodes[f[9]] = true
	}
	return inodes, sc.Err()
}
