package outputs

import (
	"fmt"
	"net/netip"
	"strings"
)

// HostsLines are the /etc/hosts lines that send every hostname of the stack to the
// gateway's address.
func (s *Stack) HostsLines() ([]string, error) {
	if err := s.Require("gatewayAddress", "urls", "stack"); err != nil {
		return nil, err
	}
	if _, err := netip.ParseAddr(s.GatewayAddress); err != nil {
		return nil, fmt.Errorf("output gatewayAddress %q is not an IP address", s.GatewayAddress)
	}
	eps, err := s.Endpoints()
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, e := range eps {
		lines = append(lines, s.GatewayAddress+" "+e.Host)
	}
	return lines, nil
}

// Markers delimit a stack's block in a hosts file.
func beginMarker(stack string) string {
	return "# BEGIN lamina " + stack + " (written by lamina hosts --apply; edits here are replaced)"
}
func endMarker(stack string) string { return "# END lamina " + stack }

// ApplyHosts returns hosts with the stack's block replaced by lines, or appended when it
// has none; everything outside the block stays as it was. Applying the same lines twice
// gives the same text.
func ApplyHosts(hosts, stack string, lines []string) (string, error) {
	begin, end := beginMarker(stack), endMarker(stack)
	block := begin + "\n" + strings.Join(lines, "\n") + "\n" + end + "\n"
	var out []string
	in := strings.SplitAfter(hosts, "\n")
	inside, replaced := false, false
	for _, l := range in {
		trimmed := strings.TrimRight(l, "\r\n")
		switch {
		case strings.HasPrefix(trimmed, "# BEGIN lamina "+stack+" ") || trimmed == "# BEGIN lamina "+stack:
			if inside || replaced {
				return "", fmt.Errorf("the hosts file has two lamina %s blocks; remove one by hand", stack)
			}
			inside = true
		case inside && trimmed == end:
			inside, replaced = false, true
			out = append(out, block)
		case !inside:
			out = append(out, l)
		}
	}
	if inside {
		return "", fmt.Errorf("the hosts file's lamina %s block has no %q line; fix it by hand", stack, end)
	}
	text := strings.Join(out, "")
	if !replaced {
		if text != "" && !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		text += block
	}
	return text, nil
}
