package rules

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// metricsFile decodes `metrics_file:`, the Prometheus textfile each scan replaces.
func (l *loader) metricsFile(v *yaml.Node, dst *string) error {
	const key = "metrics_file"
	if err := l.str(v, key, dst); err != nil {
		return err
	}
	if *dst == "" {
		return l.errf(v, key, "must not be empty (leave the key out for no metrics file)")
	}
	l.warnRelative(v.Line, key, *dst, ", where ProtectSystem=strict makes it read-only")
	if !strings.HasSuffix(*dst, ".prom") {
		l.warnf(v.Line, key, "%q does not end in .prom: node_exporter's textfile collector reads only *.prom files", *dst)
	}
	return nil
}
