package xmppconn

import "testing"

func TestClientFeatures(t *testing.T) {
	tests := []struct {
		name, in, want string
		offered        bool
	}{
		{
			name:    "starttls removed",
			in:      `<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`,
			want:    `<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`,
			offered: true,
		},
		{
			name: "channel-binding mechanisms removed (ejabberd over TLS)",
			in:   `<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1-PLUS</mechanism><mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism><mechanism> SCRAM-SHA-256-PLUS </mechanism></mechanisms><register xmlns='http://jabber.org/features/iq-register'/></stream:features>`,
			want: `<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms><register xmlns='http://jabber.org/features/iq-register'/></stream:features>`,
		},
		{
			name: "nothing to remove: unchanged",
			in:   `<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`,
			want: `<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`,
		},
		{
			name: "a mechanism element outside SASL mechanisms is kept",
			in:   `<stream:features xmlns:stream='http://etherx.jabber.org/streams'><x xmlns='urn:other'><mechanism>A-PLUS</mechanism></x></stream:features>`,
			want: `<stream:features xmlns:stream='http://etherx.jabber.org/streams'><x xmlns='urn:other'><mechanism>A-PLUS</mechanism></x></stream:features>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			got, offered, err := clientFeatures([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want || offered != tt.offered {
				t.Fatalf("got %s (offered %v)\nwant %s (offered %v)", got, offered, tt.want, tt.offered)
			}
		})
	}
}
