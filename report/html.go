package report

import (
	"html/template"
	"io"
	"strconv"
	"time"
)

// Chart geometry, in SVG user units.
const (
	chartHeight = 100 // the tallest bar
	chartTop    = 10
	chartLabels = 16 // room for the hour labels under the bars
)

type svgBar struct {
	X, Y, W, H string
	Title      string
}

type svgLabel struct {
	X, Y, Text string
}

type htmlJail struct {
	Jail
	Width, Height, Base int
	Bars                []svgBar
	Labels              []svgLabel
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

// chart lays out one bar per hour of j.Hourly, heights proportional to the counts.
func (s Summary) chart(j Jail) htmlJail {
	hj := htmlJail{Jail: j}
	n := len(j.Hourly)
	bw := 24.0
	if n > 30 {
		bw = max(2, 720/float64(n))
	}
	var top int64
	for _, c := range j.Hourly {
		top = max(top, c)
	}
	hj.Base = chartTop + chartHeight
	hj.Width, hj.Height = int(bw*float64(n))+1, hj.Base+chartLabels
	every := max(1, (n+11)/12) // at most a dozen labels
	if every > 1 && every < 6 {
		every = 6
	}
	for i, c := range j.Hourly {
		h := 0.0
		if top > 0 {
			h = chartHeight * float64(c) / float64(top)
		}
		start := s.HourStart + int64(i)*hour
		t := time.Unix(start, 0).In(s.loc())
		hj.Bars = append(hj.Bars, svgBar{
			X: num(float64(i) * bw), Y: num(float64(hj.Base) - h), W: num(bw * 0.8), H: num(h),
			Title: t.Format("2006-01-02 15:04") + ": " + strconv.FormatInt(c, 10) + " failures",
		})
		if i%every == 0 {
			hj.Labels = append(hj.Labels, svgLabel{X: num(float64(i) * bw), Y: strconv.Itoa(hj.Height - 3), Text: t.Format("15:04")})
		}
	}
	return hj
}

var htmlTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: sans-serif; color: #222; margin: 1em; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { padding: 2px 10px; border-bottom: 1px solid #ddd; }
th { text-align: left; font-weight: normal; color: #555; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.ip { font-family: monospace; }
.note { color: #a60; }
svg .bar { fill: #c33; }
svg .axis { stroke: #999; }
svg text { font-size: 9px; fill: #555; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>Period: {{.Period}}</p>
{{range .Notes}}<p class="note">{{.}}</p>
{{end}}{{range .Jails}}
<h2>{{.Name}}</h2>
<table class="figures">
<tr><th>Failures</th><td class="n">{{.Failures}}</td><th>Bans</th><td class="n">{{.Bans}}</td></tr>
<tr><th>Distinct IPs</th><td class="n">{{.DistinctIPs}}</td><th>permanent</th><td class="n">{{.PermanentBans}}</td></tr>
<tr><th>Currently banned</th><td class="n">{{.CurrentlyBanned}}</td><th>manual</th><td class="n">{{.ManualBans}}</td></tr>
<tr><th>Lines read</th><td class="n">{{.Lines}}</td><th>Unbans</th><td class="n">{{.Unbans}}</td></tr>
</table>
{{if .Top}}<table class="top">
<tr><th>Top offenders</th><th>Failures</th><th>Banned now</th></tr>
{{range .Top}}<tr><td class="ip">{{.IP}}</td><td class="n">{{.Failures}}</td><td>{{if .Banned}}yes{{end}}</td></tr>
{{end}}</table>
{{end}}<p>Failures per hour</p>
<svg class="hourly" xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="failures per hour">
<line class="axis" x1="0" y1="{{.Base}}" x2="{{.Width}}" y2="{{.Base}}"/>
{{range .Bars}}<rect class="bar" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"><title>{{.Title}}</title></rect>
{{end}}{{range .Labels}}<text x="{{.X}}" y="{{.Y}}">{{.Text}}</text>
{{end}}</svg>
{{end}}{{with .Fleet}}
<h2>fleet (CrowdSec, apart from the jails)</h2>
<table class="figures">
<tr><th>Bans pulled</th><td class="n">{{.Pulled}}</td><th>Bans pushed</th><td class="n">{{.Pushed}}</td></tr>
<tr><th>Currently banned</th><td class="n">{{.CurrentlyBanned}}</td><th>Lifted</th><td class="n">{{.Lifted}}</td></tr>
</table>
{{end}}
</body>
</html>
`))

// HTML writes s as one self-contained HTML document: inline CSS, the hourly failures as an
// inline SVG bar chart (one bar per hour), no scripts, no external resources.
func HTML(w io.Writer, s Summary) error {
	data := struct {
		Title, Period string
		Notes         []string
		Jails         []htmlJail
		Fleet         *Fleet
	}{Title: s.Title(), Period: s.Period(), Notes: s.Notes(), Fleet: s.Fleet}
	for _, j := range s.Jails {
		data.Jails = append(data.Jails, s.chart(j))
	}
	return htmlTemplate.Execute(w, data)
}
