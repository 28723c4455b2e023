package targets_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/schedulerd/schedulerd/pkg/targets"
)

// fakeDNS serves A records for names (with the final dot) on a loopback UDP port until the
// test ends, and returns a resolver that asks only it.
func fakeDNS(t *testing.T, names map[string]netip.Addr) *net.Resolver {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { conn.Close(); wg.Wait() })
	wg.Go(func() {
		buf := make([]byte, 512)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			var m dnsmessage.Message
			if m.Unpack(buf[:n]) != nil || len(m.Questions) != 1 {
				continue
			}
			q := m.Questions[0]
			m.Header.Response, m.Header.Authoritative, m.Header.RCode = true, true, dnsmessage.RCodeSuccess
			m.Answers = nil
			if a, ok := names[q.Name.String()]; ok && q.Type == dnsmessage.TypeA && a.Is4() {
				m.Answers = append(m.Answers, dnsmessage.Resource{
					Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60},
					Body:   &dnsmessage.AResource{A: a.As4()},
				})
			} else if !ok {
				m.Header.RCode = dnsmessage.RCodeNameError
			}
			if out, err := m.Pack(); err == nil {
				_, _ = conn.WriteTo(out, from)
			}
		}
	})
	addr := conn.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", addr)
	}}
}

// errPassed stops a dial that the policy let through, before it reaches the network.
var errPassed = errors.New("passed the policy")

func TestDialRefusesLinkLocal(t *testing.T) {
	resolver := fakeDNS(t, map[string]netip.Addr{
		"metadata.test.": netip.MustParseAddr("169.254.169.254"),
		"loop.test.":     netip.MustParseAddr("127.0.0.1"),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	var dialled []string
	stop := &net.Dialer{Resolver: resolver, Control: func(_, address string, _ syscall.RawConn) error {
		dialled = append(dialled, address)
		return errPassed
	}}
	for _, tc := range []struct {
		name    string
		allowed []string
		addr    string
		refused bool
	}{
		{"metadata address", nil, "169.254.169.254:80", true},
		{"any link-local IPv4", nil, "169.254.1.2:8080", true},
		{"link-local IPv6", nil, "[fe80::1]:80", true},
		{"IPv4-mapped link-local", nil, "[::ffff:169.254.169.254]:80", true},
		{"a name that resolves to it", nil, "metadata.test:80", true},
		{"a glob does not name it", []string{"*.test", "169.254.*"}, "metadata.test:80", true},
		{"named by address", []string{"169.254.169.254"}, "metadata.test:80", false},
		{"named by host", []string{"metadata.test"}, "metadata.test:80", false},
		{"named address, dialled directly", []string{"169.254.169.254"}, "169.254.169.254:80", false},
		{"loopback", nil, "127.0.0.1:" + port, false},
		{"a name that resolves to loopback", []string{"*.internal"}, "loop.test:" + port, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dialled = nil
			p := mustPolicy(t, targets.Config{AllowedHosts: tc.allowed})
			conn, err := p.DialContext(stop)(context.Background(), "tcp", tc.addr)
			if conn != nil {
				conn.Close()
			}
			var te *targets.Error
			if tc.refused {
				if !errors.As(err, &te) || !strings.Contains(err.Error(), "link-local") || !strings.Contains(err.Error(), "--allowed-target-hosts") {
					t.Fatalf("dial = %v, want a refusal", err)
				}
				if len(dialled) != 0 {
					t.Errorf("the next Control ran for a refused address: %v", dialled)
				}
				return
			}
			if !errors.Is(err, errPassed) || len(dialled) == 0 {
				t.Fatalf("dial = %v (dialled %v), want it let through to the dialer's own Control", err, dialled)
			}
		})
	}
	// Without a Control of its own the dialer connects.
	conn, err := mustPolicy(t, targets.Config{}).DialContext(&net.Dialer{Resolver: resolver})(context.Background(), "tcp", "loop.test:"+port)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
}
