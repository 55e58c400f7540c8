package fw

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// servicePorts resolves the service names a mail server's jail uses without
// depending on the host's /etc/services (Go's built-in fallback table lacks
// smtp). Other names go to net.LookupPort.
var servicePorts = map[string]int{
	"smtp":        25,
	"submission":  587,
	"submissions": 465,
	"smtps":       465,
	"urd":         465,
	"pop3":        110,
	"pop3s":       995,
	"imap":        143,
	"imap2":       143,
	"imaps":       993,
	"sieve":       4190,
	"managesieve": 4190,
	"ssh":         22,
	"http":        80,
	"https":       443,
	"ftp":         21,
	"ftps":        990,
	"domain":      53,
	"ldap":        389,
	"ldaps":       636,
}

// maxMultiport is the number of port slots -m multiport takes; a range uses two.
const maxMultiport = 15

// protocols returns the -p values the jump rules of protocol use: tcp, udp,
// or both for "all".
func protocols(protocol string) ([]string, error) {
	switch strings.ToLower(protocol) {
	case "", "tcp":
		return []string{"tcp"}, nil
	case "udp":
		return []string{"udp"}, nil
	case "all":
		return []string{"tcp", "udp"}, nil
	}
	return nil, fmt.Errorf("protocol %q: want tcp, udp or all", protocol)
}

// allPorts reports whether ports means every port: none, or just "all".
func allPorts(ports []string) bool {
	return len(ports) == 0 || len(ports) == 1 && strings.EqualFold(strings.TrimSpace(ports[0]), "all")
}

// portList returns the --dports value for ports, numbers as iptables-save
// prints them ("25,465,587", "1000:2000"). Entries may themselves be
// comma-separated lists, as in fail2ban's port option.
func portList(ports []string, proto string) (string, error) {
	var out []string
	seen := map[string]bool{}
	slots := 0
	for _, entry := range ports {
		for _, p := range strings.Split(entry, ",") {
			p = strings.TrimSpace(p)
			if strings.EqualFold(p, "all") {
				return "", fmt.Errorf("port %q: \"all\" cannot be combined with other ports", p)
			}
			lo, hi, isRange := strings.Cut(p, ":")
			a, err := resolvePort(lo, proto)
			if err != nil {
				return "", err
			}
			s := strconv.Itoa(a)
			n := 1
			if isRange {
				b, err := resolvePort(hi, proto)
				if err != nil {
					return "", err
				}
				if a > b {
					return "", fmt.Errorf("port range %q: start is after end", p)
				}
				s += ":" + strconv.Itoa(b)
				n = 2
			}
			if seen[s] {
				continue
			}
			seen[s] = true
			slots += n
			out = append(out, s)
		}
	}
	if slots > maxMultiport {
		return "", fmt.Errorf("ports %s: more than %d ports (a range counts as two), the limit of iptables' multiport match",
			strings.Join(out, ","), maxMultiport)
	}
	return strings.Join(out, ","), nil
}

// resolvePort returns the number of a port given as a number or a service name.
func resolvePort(s, proto string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("port is empty")
	}
	if s[0] >= '0' && s[0] <= '9' {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 65535 {
			return 0, fmt.Errorf("port %q: want a number from 1 to 65535 or a service name", s)
		}
		return n, nil
	}
	if n, ok := servicePorts[strings.ToLower(s)]; ok {
		return n, nil
	}
	n, err := net.LookupPort(proto, s)
	if err != nil {
		return 0, fmt.Errorf("port %q: unknown service name", s)
	}
	return n, nil
}

// jumpSpecs returns the INPUT rules (without "-A INPUT") that send j's
// traffic to its chain, as iptables-save prints them.
func jumpSpecs(j Jail) ([]string, error) {
	protos, err := protocols(j.Protocol)
	if err != nil {
		return nil, err
	}
	target := "-j " + ChainName(j.Name)
	if allPorts(j.Ports) {
		if len(protos) > 1 {
			return []string{target}, nil
		}
		return []string{"-p " + protos[0] + " " + target}, nil
	}
	var specs []string
	for _, p := range protos {
		list, err := portList(j.Ports, p)
		if err != nil {
			return nil, err
		}
		specs = append(specs, "-p "+p+" -m multiport --dports "+list+" "+target)
	}
	return specs, nil
}
