package crowdsec

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// DecodeStream decodes an answer of GET /v1/decisions/stream. A startup answer of a big
// fleet is large (100,000 decisions are 16 MB), and encoding/json reads it at about 35 MB/s:
// decodeStreamFast reads the shape the LAPI writes (an object of "new" and "deleted", each
// null or an array of flat objects of strings, numbers, booleans and nulls) directly, and
// anything else goes to encoding/json, so what is accepted and how errors read stay its own.
// FuzzDecodeStream checks that both ways agree.
func DecodeStream(data []byte) (*Stream, error) {
	if s, ok := decodeStreamFast(data); ok {
		return s, nil
	}
	var s Stream
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

type streamParser struct {
	d []byte
	i int
}

func decodeStreamFast(data []byte) (*Stream, bool) {
	p := &streamParser{d: data}
	var s Stream
	seen := map[string]bool{}
	p.ws()
	if !p.eat('{') {
		return nil, false
	}
	p.ws()
	if !p.eat('}') {
		for {
			p.ws()
			key, ok := p.plainString()
			if !ok || seen[key] || (key != "new" && key != "deleted") {
				return nil, false
			}
			seen[key] = true
			p.ws()
			if !p.eat(':') {
				return nil, false
			}
			p.ws()
			list, ok := p.decisions()
			if !ok {
				return nil, false
			}
			if key == "new" {
				s.New = list
			} else {
				s.Deleted = list
			}
			p.ws()
			if p.eat(',') {
				continue
			}
			if !p.eat('}') {
				return nil, false
			}
			break
		}
	}
	p.ws()
	if p.i != len(p.d) {
		return nil, false
	}
	return &s, true
}

func (p *streamParser) ws() {
	for p.i < len(p.d) && (p.d[p.i] == ' ' || p.d[p.i] == '\n' || p.d[p.i] == '\t' || p.d[p.i] == '\r') {
		p.i++
	}
}

func (p *streamParser) eat(c byte) bool {
	if p.i < len(p.d) && p.d[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *streamParser) lit(s string) bool {
	if len(p.d)-p.i >= len(s) && string(p.d[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// plainString reads a string without escapes of printable ASCII; anything else is left to
// encoding/json.
func (p *streamParser) plainString() (string, bool) {
	if !p.eat('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.d) {
		c := p.d[p.i]
		if c == '"' {
			s := string(p.d[start:p.i])
			p.i++
			return s, true
		}
		if c == '\\' || c < 0x20 || c >= 0x7f {
			return "", false
		}
		p.i++
	}
	return "", false
}

// decisions reads null or an array of decisions.
func (p *streamParser) decisions() ([]Decision, bool) {
	if p.lit("null") {
		return nil, true
	}
	if !p.eat('[') {
		return nil, false
	}
	out := []Decision{}
	p.ws()
	if p.eat(']') {
		return out, true
	}
	for {
		p.ws()
		d, ok := p.decision()
		if !ok {
			return nil, false
		}
		out = append(out, d)
		p.ws()
		if p.eat(',') {
			continue
		}
		return out, p.eat(']')
	}
}

// decision reads one flat object: Decision's keys, spelled exactly so, once each, with the
// type Decision gives them; other keys (a later LAPI's "until") with a scalar, skipped.
// Anything else (a null, a key spelled in another case, which encoding/json matches too) is
// left to encoding/json.
func (p *streamParser) decision() (Decision, bool) {
	var d Decision
	if !p.eat('{') {
		return d, false
	}
	p.ws()
	if p.eat('}') {
		return d, true
	}
	seen := 0
	for {
		p.ws()
		key, ok := p.plainString()
		if !ok {
			return d, false
		}
		p.ws()
		if !p.eat(':') {
			return d, false
		}
		p.ws()
		bit := fieldBit(key)
		if bit == 0 {
			if foldsToField(key) || !p.scalar() {
				return d, false
			}
		} else {
			if seen&bit != 0 {
				return d, false // repeated: left to encoding/json
			}
			seen |= bit
			switch key {
			case "id":
				n, ok := p.int()
				if !ok {
					return d, false
				}
				d.ID = n
			case "simulated":
				switch {
				case p.lit("true"):
					d.Simulated = true
				case p.lit("false"):
				default:
					return d, false
				}
			default:
				v, ok := p.plainString()
				if !ok {
					return d, false
				}
				switch key {
				case "duration":
					d.Duration = v
				case "type":
					d.Type = v
				case "scope":
					d.Scope = v
				case "value":
					d.Value = v
				case "origin":
					d.Origin = v
				case "scenario":
					d.Scenario = v
				}
			}
		}
		p.ws()
		if p.eat(',') {
			continue
		}
		return d, p.eat('}')
	}
}

// fieldBit numbers Decision's JSON keys, spelled exactly so (0: another key).
func fieldBit(key string) int {
	switch key {
	case "id":
		return 1
	case "duration":
		return 2
	case "type":
		return 4
	case "scope":
		return 8
	case "value":
		return 16
	case "origin":
		return 32
	case "scenario":
		return 64
	case "simulated":
		return 128
	}
	return 0
}

// foldsToField reports whether key is one of Decision's keys in another case.
func foldsToField(key string) bool {
	for _, k := range []string{"id", "duration", "type", "scope", "value", "origin", "scenario", "simulated"} {
		if strings.EqualFold(key, k) {
			return true
		}
	}
	return false
}

// scalar skips a plain string, a number, true, false or null.
func (p *streamParser) scalar() bool {
	switch {
	case p.i < len(p.d) && p.d[p.i] == '"':
		_, ok := p.plainString()
		return ok
	case p.lit("true"), p.lit("false"), p.lit("null"):
		return true
	}
	start := p.i
	for p.i < len(p.d) && (p.d[p.i] >= '0' && p.d[p.i] <= '9' || p.d[p.i] == '-' || p.d[p.i] == '+' || p.d[p.i] == '.' || p.d[p.i] == 'e' || p.d[p.i] == 'E') {
		p.i++
	}
	return p.i > start && json.Valid(p.d[start:p.i])
}

// int reads a JSON integer that fits int64 (no fraction nor exponent).
func (p *streamParser) int() (int64, bool) {
	start := p.i
	if p.i < len(p.d) && p.d[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.d) && p.d[p.i] >= '0' && p.d[p.i] <= '9' {
		p.i++
	}
	if p.i == digits || p.d[digits] == '0' && p.i-digits > 1 {
		return 0, false
	}
	if p.i < len(p.d) && (p.d[p.i] == '.' || p.d[p.i] == 'e' || p.d[p.i] == 'E') {
		return 0, false
	}
	n, err := strconv.ParseInt(string(p.d[start:p.i]), 10, 64)
	return n, err == nil
}

// String is for test messages.
func (s *Stream) String() string { return fmt.Sprintf("new %+v deleted %+v", s.New, s.Deleted) }
