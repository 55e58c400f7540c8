package state

import (
	"os"
	"testing"
)

func BenchmarkLocalLoad(b *testing.B) {
	p := os.Getenv("F2BS_STATE")
	for b.Loop() {
		if _, err := LoadLazy(p); err != nil {
			b.Fatal(err)
		}
	}
}
