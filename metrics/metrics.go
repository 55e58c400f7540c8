// Package metrics writes what a run did and what the state holds as a Prometheus textfile
// (for node_exporter's textfile collector), replacing the file atomically.
package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Run is what one scan run reports: its times and outcome, and every jail of its pass.
type Run struct {
	// Start is when the run started (the --now time under --now); Duration is the real time
	// it took.
	Start    time.Time
	Duration time.Duration
	// LastSuccess is the start of the last run that succeeded (this one when it did), unix
	// seconds; 0 when none is known: the metric is then left out.
	LastSuccess int64
	Jails       []Jail
	// Fleet is the bans shared through CrowdSec (nil: no crowdsec: section, no metrics).
	Fleet *Fleet
}

// Fleet is the CrowdSec fleet's gauges after the run.
type Fleet struct {
	CurrentlyBanned int  // the fleet's bans in force (addresses and prefixes)
	PendingPushes   int  // this host's bans and unbans waiting for the LAPI
	Up              bool // this run's calls to the LAPI all succeeded
}

// Jail is one jail's counters (totals the state keeps since it was created), its current
// gauges, whether this run handled it without error, and its config.
type Jail struct {
	Name string
	Up   bool

	Failures, Bans, Unbans, Lines, ReadErrors int64

	CurrentlyBanned, CurrentlyFailed int

	MaxRetry int
	FindTime int64 // seconds
	BanTime  int64 // seconds, -1 for permanent
}

const namespace = "fail2ban_scan"

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(namespace+"_"+name, help, labels, nil)
}

var jailLabel = []string{"jail"}

// collector turns a Run into const metrics. Each run writes the whole file from the state,
// so nothing has to live between two collections: const metrics say exactly that.
type collector struct {
	run Run

	failures, bans, unbans, lines, readErrors *prometheus.Desc
	banned, failed, up                        *prometheus.Desc
	maxRetry, findTime, banTime               *prometheus.Desc
	duration, lastRun, lastSuccess            *prometheus.Desc
	fleetBanned, fleetPending, fleetUp        *prometheus.Desc
}

func newCollector(r Run) *collector {
	return &collector{
		run:        r,
		failures:   desc("failures_total", "Failures counted since the state was created (status: Total failed).", jailLabel...),
		bans:       desc("bans_total", "Bans applied since the state was created (status: Total banned).", jailLabel...),
		unbans:     desc("unbans_total", "Bans lifted since the state was created: expired, by unban, or a prefix ban that overlaps ignoreip.", jailLabel...),
		lines:      desc("lines_read_total", "Log lines (or journal entries) read since the state was created.", jailLabel...),
		readErrors: desc("read_errors_total", "Runs in which reading the jail's logs failed (a log missing or unreadable, a journal error).", jailLabel...),
		banned:     desc("currently_banned", "Active bans (status: Currently banned; a banned prefix counts once).", jailLabel...),
		failed:     desc("currently_failed", "Addresses with at least one failure within findtime (status: Currently failed).", jailLabel...),
		up:         desc("jail_up", "1 when the last run handled the jail without an error, 0 when it logged one for it.", jailLabel...),
		maxRetry:   desc("config_maxretry", "The jail's maxretry.", jailLabel...),
		findTime:   desc("config_findtime_seconds", "The jail's findtime.", jailLabel...),
		banTime:    desc("config_bantime_seconds", "The jail's bantime (-1: permanent).", jailLabel...),
		duration:   desc("last_run_duration_seconds", "How long the last run took."),
		lastRun:    desc("last_run_timestamp_seconds", "When the last run started, unix seconds."),
		lastSuccess: desc("last_success_timestamp_seconds",
			"When the last run that succeeded (exit status 0) started, unix seconds."),
		fleetBanned:  desc("fleet_currently_banned", "Bans pulled from the CrowdSec LAPI in force (the jail fleet)."),
		fleetPending: desc("fleet_pending_pushes", "This host's bans and unbans waiting for the CrowdSec LAPI."),
		fleetUp:      desc("fleet_lapi_up", "1 when the last run's calls to the CrowdSec LAPI succeeded, 0 when one failed."),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.failures, c.bans, c.unbans, c.lines, c.readErrors,
		c.banned, c.failed, c.up, c.maxRetry, c.findTime, c.banTime, c.duration, c.lastRun, c.lastSuccess,
		c.fleetBanned, c.fleetPending, c.fleetUp} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	m := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
	}
	for _, j := range c.run.Jails {
		m(c.failures, prometheus.CounterValue, float64(j.Failures), j.Name)
		m(c.bans, prometheus.CounterValue, float64(j.Bans), j.Name)
		m(c.unbans, prometheus.CounterValue, float64(j.Unbans), j.Name)
		m(c.lines, prometheus.CounterValue, float64(j.Lines), j.Name)
		m(c.readErrors, prometheus.CounterValue, float64(j.ReadErrors), j.Name)
		m(c.banned, prometheus.GaugeValue, float64(j.CurrentlyBanned), j.Name)
		m(c.failed, prometheus.GaugeValue, float64(j.CurrentlyFailed), j.Name)
		up := 0.0
		if j.Up {
			up = 1
		}
		m(c.up, prometheus.GaugeValue, up, j.Name)
		m(c.maxRetry, prometheus.GaugeValue, float64(j.MaxRetry), j.Name)
		m(c.findTime, prometheus.GaugeValue, float64(j.FindTime), j.Name)
		banTime := float64(j.BanTime)
		if j.BanTime < 0 {
			banTime = -1
		}
		m(c.banTime, prometheus.GaugeValue, banTime, j.Name)
	}
	m(c.duration, prometheus.GaugeValue, c.run.Duration.Seconds())
	m(c.lastRun, prometheus.GaugeValue, float64(c.run.Start.Unix()))
	if c.run.LastSuccess > 0 {
		m(c.lastSuccess, prometheus.GaugeValue, float64(c.run.LastSuccess))
	}
	if f := c.run.Fleet; f != nil {
		m(c.fleetBanned, prometheus.GaugeValue, float64(f.CurrentlyBanned))
		m(c.fleetPending, prometheus.GaugeValue, float64(f.PendingPushes))
		up := 0.0
		if f.Up {
			up = 1
		}
		m(c.fleetUp, prometheus.GaugeValue, up)
	}
}

// Registry returns a fresh registry holding r's metrics (the pedantic one: it checks the
// collector against its descriptions).
func Registry(r Run) (*prometheus.Registry, error) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(newCollector(r)); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	return reg, nil
}

// Write replaces the file at path with r's metrics in the Prometheus text format, mode 0644.
// client_golang's WriteToTextfile writes a temporary file in path's directory (named path's
// base name plus digits, which node_exporter's *.prom glob does not match) and renames it
// over path, so a reader sees the old file or the new one, never a part.
func Write(path string, r Run) error {
	reg, err := Registry(r)
	if err != nil {
		return err
	}
	if err := prometheus.WriteToTextfile(path, reg); err != nil {
		return fmt.Errorf("write metrics file %s: %w", path, err)
	}
	return nil
}
