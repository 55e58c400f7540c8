// Command genlog writes a synthetic postfix mail log for the benchmarks: N lines in syslog
// format, one second apart per ~10 lines, a given share of them SASL authentication failures
// from a pool of attacker addresses, the rest the ordinary traffic of a busy mail server.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"
)

func main() {
	n := flag.Int("lines", 1_000_000, "lines to write")
	share := flag.Float64("fail", 0.05, "share of SASL failure lines")
	attackers := flag.Int("attackers", 2000, "distinct attacker addresses")
	start := flag.String("start", "2026-08-15T00:00:00Z", "time of the first line (RFC 3339)")
	flag.Parse()
	t0, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		fmt.Fprintln(os.Stderr, "genlog:", err)
		os.Exit(2)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	const alnum = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"
	qid := func() string {
		b := make([]byte, 14)
		for i := range b {
			b[i] = alnum[rng.IntN(len(alnum))]
		}
		return string(b)
	}
	for i := 0; i < *n; i++ {
		ts := t0.Add(time.Duration(i/10) * time.Second).Format(time.Stamp)
		pid := 1000 + rng.IntN(30000)
		if rng.Float64() < *share {
			a := rng.IntN(*attackers)
			fmt.Fprintf(w, "%s mx1 postfix/smtpd[%d]: warning: unknown[198.%d.%d.%d]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n",
				ts, pid, 18+a/65536%2, a/256%256, a%256)
			continue
		}
		c := 10 + rng.IntN(200)
		switch rng.IntN(6) {
		case 0:
			fmt.Fprintf(w, "%s mx1 postfix/smtpd[%d]: connect from mail%d.example.org[203.0.113.%d]\n", ts, pid, c, c)
		case 1:
			fmt.Fprintf(w, "%s mx1 postfix/smtpd[%d]: disconnect from mail%d.example.org[203.0.113.%d] ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7\n", ts, pid, c, c)
		case 2:
			fmt.Fprintf(w, "%s mx1 postfix/cleanup[%d]: %s: message-id=<%d.%s@example.org>\n", ts, pid, qid(), rng.Int64(), qid())
		case 3:
			fmt.Fprintf(w, "%s mx1 postfix/qmgr[%d]: %s: from=<user%d@example.org>, size=%d, nrcpt=1 (queue active)\n", ts, pid, qid(), c, 1000+rng.IntN(90000))
		case 4:
			fmt.Fprintf(w, "%s mx1 postfix/smtp[%d]: %s: to=<user%d@example.net>, relay=mx.example.net[198.51.100.%d]:25, delay=0.52, delays=0.1/0/0.2/0.22, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued)\n", ts, pid, qid(), c, c)
		default:
			fmt.Fprintf(w, "%s mx1 postfix/smtpd[%d]: %s: client=mail%d.example.org[203.0.113.%d], sasl_method=PLAIN, sasl_username=user%d\n", ts, pid, qid(), c, c, c)
		}
	}
}
