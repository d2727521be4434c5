package servers_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"boshd/integration/servers"
)

// A benchmark or the demo starts a server itself and stops it when done;
// tests use servers.Prosody(t, ...) instead, which also stops it.
func ExampleStartProsody() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := servers.StartProsody(ctx, servers.Options{LoadTest: true})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Stop()
	err = s.RegisterMany(ctx, map[string]string{"alice": "secret", "bob": "secret"})
	fmt.Println(s.Kind, s.Domain, err)
	// Output: prosody localhost <nil>
}
