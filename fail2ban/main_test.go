package fail2ban

import (
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// The fail2ban-server these tests start has no actions, so it never runs
// iptables; where unshare -n works the whole test process runs in a private
// network namespace all the same.
func TestMain(m *testing.M) { netnstest.Main(m) }
