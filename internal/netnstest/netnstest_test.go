package netnstest

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

// TestIsolate checks that each Isolate gives a namespace of its own.
func TestIsolate(t *testing.T) {
	seen := map[string]string{}
	if outer := os.Getenv(EnvOuter); outer != "" {
		seen[outer] = "the outer namespace"
	}
	for _, name := range []string{"first", "second"} {
		t.Run(name, func(t *testing.T) {
			Isolate(t)
			ns, err := os.Readlink("/proc/thread-self/ns/net")
			if err != nil {
				t.Fatal(err)
			}
			if other, ok := seen[ns]; ok {
				t.Errorf("namespace %s is also %s", ns, other)
			}
			seen[ns] = name
			if err := Check(); err != nil {
				t.Errorf("Check after Isolate: %v", err)
			}
		})
	}
}
