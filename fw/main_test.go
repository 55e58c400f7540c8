package fw

import (
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

func TestMain(m *testing.M) { netnstest.Main(m) }
