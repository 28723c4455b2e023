package targets

import (
	"context"
	"net"
	"net/netip"
	"syscall"
)

// DialContext returns a dial function for an http.Transport: it dials like d, but refuses a
// link-local address (169.254.0.0/16, fe80::/10, where cloud metadata endpoints such as
// 169.254.169.254 answer) unless the allowed list names the host being dialled or that
// address itself, without wildcards. The check runs on each address actually dialled, after
// name resolution. d is not changed.
func (p *Policy) DialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		dd := *d
		next := d.ControlContext
		if next == nil && d.Control != nil {
			next = func(_ context.Context, network, address string, c syscall.RawConn) error {
				return d.Control(network, address, c)
			}
		}
		dd.Control = nil
		dd.ControlContext = func(ctx context.Context, network, address string, c syscall.RawConn) error {
			if err := p.checkDial(host, address); err != nil {
				return err
			}
			if next != nil {
				return next(ctx, network, address, c)
			}
			return nil
		}
		return dd.DialContext(ctx, network, addr)
	}
}

// checkDial refuses address (ip:port, about to be dialled for host) when it is link-local
// and not named in the allowed list.
func (p *Policy) checkDial(host, address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil // not an IP socket address: nothing to check
	}
	ip := ap.Addr().Unmap()
	if !ip.IsLinkLocalUnicast() || p.names(host) || p.names(ip.String()) {
		return nil
	}
	named := ip.WithZone("").String()
	if h, _ := normHost(host); h != named {
		named = `"` + host + `" or ` + named
	}
	return refuse("refused to dial %s: a link-local address, where cloud metadata endpoints answer; "+
		"a target may call it only when --allowed-target-hosts names %s itself", ip, named)
}
