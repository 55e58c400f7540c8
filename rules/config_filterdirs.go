package rules

import (
	"fmt"
	"path"

	"gopkg.in/yaml.v3"
)

// filterDirsKey reads filter_dirs: a list of absolute directories where "fail2ban:NAME"
// filters are looked up.
func (l *loader) filterDirsKey(v *yaml.Node, dst *[]string) error {
	const key = "filter_dirs"
	if v.Kind != yaml.SequenceNode {
		return l.errf(v, key, "must be a list of directories")
	}
	for i, n := range v.Content {
		var d string
		k := fmt.Sprintf("%s[%d]", key, i)
		if err := l.str(n, k, &d); err != nil {
			return err
		}
		if !path.IsAbs(d) {
			return l.errf(n, k, "must be an absolute path, got %q", d)
		}
		*dst = append(*dst, d)
	}
	l.filterDirs = *dst
	return nil
}
