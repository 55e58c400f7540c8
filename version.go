package main

import "runtime/debug"

// version and revision are set by the Makefile (-ldflags -X) to the package version and the git
// commit. A plain go build leaves them empty and the build info speaks instead: go stamps the
// module version and vcs.revision into a binary built in a git clone, but not in a git worktree
// (golang.org/issue/58218), where only the -X values name the commit.
var version, revision string

// buildVersion is what --version prints: the version, then the revision it was built from, e.g.
// "0.0.0~git20260815.ea1cd27 (revision ea1cd27c6f2b, modified)".
func buildVersion() string {
	v, rev, modified := version, revision, ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision":
				rev = s.Value
			case s.Key == "vcs.modified" && s.Value == "true":
				modified = ", modified"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if rev == "" {
		return v
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return v + " (revision " + rev + modified + ")"
}
