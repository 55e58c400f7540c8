package fail2ban

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/internal/fail2bantest"
)

// render writes a decoded value in the notation of pythonRender below, so
// that the decoder is checked against what Python itself pickled.
func render(v any) string {
	switch v := v.(type) {
	case nil:
		return "N"
	case bool:
		if v {
			return "T"
		}
		return "F"
	case int64:
		return "i" + strconv.FormatInt(v, 10)
	case string:
		return "s" + hex.EncodeToString([]byte(v))
	case pyTuple:
		return "(" + renderAll(v) + ")"
	case *pyList:
		return "[" + renderAll(v.items) + "]"
	}
	return fmt.Sprintf("?%T", v)
}

func renderAll(vs []any) string {
	var parts []string
	for _, v := range vs {
		parts = append(parts, render(v))
	}
	return strings.Join(parts, ",")
}

// pythonRender is render in Python; the program prints, for each value of
// pythonValues and each protocol 2 to 5, "hex-of-pickle rendering".
const pythonRender = `
import pickle, sys
def r(v):
    if v is None: return "N"
    if v is True: return "T"
    if v is False: return "F"
    if isinstance(v, int): return "i%d" % v
    if isinstance(v, str): return "s" + v.encode("utf-8").hex()
    if isinstance(v, tuple): return "(" + ",".join(map(r, v)) + ")"
    if isinstance(v, list): return "[" + ",".join(map(r, v)) + "]"
    raise TypeError(v)
name = "postfix-sasl"
values = [
    (0, [("Number of jail", 2), ("Jail list", "postfix-sasl, sshd")]),
    (0, [("Number of jail", 0), ("Jail list", "")]),
    (0, [("Number of jail", 2), ("Jail list", "jäil-ü, 日本")]),
    (0, [("Number of jail", 300), ("Jail list", ", ".join("jail%03d" % i for i in range(300)))]),
    [name, name, (name, name)],
    [list(range(-3, 1500))],
    [2**31 - 1, -2**31, 255, 256, 65535, 65536],
    [None, True, False, (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [[]]],
    "ERROR: x" * 40,
]
for v in values:
    for p in range(2, 6):
        print(pickle.dumps(v, p).hex(), r(v))
`

func requirePython(t *testing.T) string {
	t.Helper()
	// python3 is what fail2ban runs on: required with it.
	return fail2bantest.RequireTool(t, "python3")
}

func TestDecodePythonPickles(t *testing.T) {
	py := requirePython(t)
	out, err := exec.Command(py, "-c", pythonRender).Output()
	if err != nil {
		t.Fatalf("%s -c ...: %v", py, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 36 {
		t.Fatalf("python printed %d lines, want 36", len(lines))
	}
	for i, line := range lines {
		h, want, _ := strings.Cut(line, " ")
		data, err := hex.DecodeString(h)
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		got, err := decode(data)
		if err != nil {
			t.Errorf("decode(%x) (protocol %d): %v", data, data[1], err)
			continue
		}
		if r := render(got); r != want {
			t.Errorf("decode(%x) (protocol %d) = %.200s, want %.200s", data, data[1], r, want)
		}
		// Every proper prefix is an error, never a panic or a value.
		for n := range len(data) {
			if v, err := decode(data[:n]); err == nil {
				t.Errorf("decode(%x), a prefix of %x, = %s, want an error", data[:n], data, render(v))
			}
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	py := requirePython(t)
	valid := encodeStrings("status")
	cases := []struct {
		name    string
		pickle  []byte
		python  string // when pickle is nil: an expression pickled at protocol 5
		wantErr string
	}{
		{name: "exception object", python: "ValueError('x')", wantErr: "unsupported opcode 0x93"},
		{name: "bytes", python: "b'x'", wantErr: "unsupported opcode 0x43"},
		{name: "float", python: "1.5", wantErr: "unsupported opcode 0x47"},
		{name: "dict", python: "{}", wantErr: "unsupported opcode 0x7d"},
		{name: "big int", python: "2**40", wantErr: "unsupported opcode 0x8a"},
		{name: "protocol 0", wantErr: "unsupported opcode 0x56", pickle: []byte("Vx\np0\n.")},
		{name: "protocol 6", pickle: []byte("\x80\x06N."), wantErr: "pickle protocol 6"},
		{name: "after stop", pickle: append(valid, 'N'), wantErr: "1 bytes after stop"},
		{name: "two values", pickle: []byte("\x80\x02NN."), wantErr: "stop with 2 items"},
		{name: "open mark", pickle: []byte("\x80\x02(N."), wantErr: "stop with 1 items and 1 marks"},
		{name: "append to a str", pickle: []byte("\x80\x02X\x01\x00\x00\x00xNa."), wantErr: "append to string"},
		{name: "tuple2 across a mark", pickle: []byte("\x80\x02N(N\x86."), wantErr: "stack underflow"},
		{name: "memo unset", pickle: []byte("\x80\x02h\x07."), wantErr: "memo 7 not set"},
		{name: "huge str", pickle: []byte("\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xff."), wantErr: "truncated"},
		{name: "invalid utf-8", pickle: []byte("\x80\x04\x8c\x01\xff."), wantErr: "not valid UTF-8"},
	}
	var exprs []string
	for _, tc := range cases {
		if tc.pickle == nil {
			exprs = append(exprs, tc.python)
		}
	}
	// One python run pickles every expression, one per line.
	args := append([]string{"-c", "import pickle,sys\nfor e in sys.argv[1:]: print(pickle.dumps(eval(e), 5).hex())"}, exprs...)
	out, err := exec.Command(py, args...).Output()
	if err != nil {
		t.Fatalf("%s -c ... %q: %v", py, exprs, err)
	}
	pickles := strings.Fields(string(out))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.pickle
			if data == nil {
				var err error
				if data, err = hex.DecodeString(pickles[0]); err != nil {
					t.Fatal(err)
				}
				pickles = pickles[1:]
			}
			v, err := decode(data)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("decode(%x) = %v, %v; want an error containing %q", data, v, err, tc.wantErr)
			}
		})
	}
}

// TestEncodeStrings checks the request against Python's pickle.loads, which
// is what fail2ban-server runs on it.
func TestEncodeStrings(t *testing.T) {
	py := requirePython(t)
	lists := [][]string{{"status"}, {"status", "postfix-sasl"}, {}, {"jäil", strings.Repeat("x", 300)}}
	// One python run: a line "hex-of-pickle json-of-list" in, "True" out when
	// the pickle loads as the list.
	var in strings.Builder
	for _, ss := range lists {
		j, err := json.Marshal(ss)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&in, "%x %s\n", encodeStrings(ss...), j)
	}
	cmd := exec.Command(py, "-c", `import json,pickle,sys
for line in sys.stdin:
    h, j = line.split(" ", 1)
    print(pickle.loads(bytes.fromhex(h)) == json.loads(j))`)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s -c ...: %v\n%s", py, err, out)
	}
	results := strings.Fields(string(out))
	for i, ss := range lists {
		data := encodeStrings(ss...)
		if i >= len(results) || results[i] != "True" {
			t.Errorf("pickle.loads(%x) != %q (python printed %q)", data, ss, results)
		}
		v, err := decode(data)
		if err != nil {
			t.Fatalf("decode(encodeStrings(%q)): %v", ss, err)
		}
		var want []string
		for _, s := range ss {
			want = append(want, render(s))
		}
		if got := render(v); got != "["+strings.Join(want, ",")+"]" {
			t.Errorf("decode(encodeStrings(%q)) = %s, want [%s]", ss, got, strings.Join(want, ","))
		}
	}
}

func TestParseStatus(t *testing.T) {
	item := func(k string, v any) any { return pyTuple{k, v} }
	reply := func(items ...any) any { return pyTuple{int64(0), &pyList{items: items}} }
	for _, tc := range []struct {
		name    string
		reply   any
		want    string
		wantErr string
	}{
		{"two", reply(item("Number of jail", int64(2)), item("Jail list", "b, a")), "[a b]", ""},
		{"none", reply(item("Number of jail", int64(0)), item("Jail list", "")), "[]", ""},
		{"no count", reply(item("Jail list", "a")), "[a]", ""},
		{"comma in a name", reply(item("Number of jail", int64(1)), item("Jail list", "a, b")), "", "does not split into the 1 jails"},
		{"no list", reply(item("Number of jail", int64(0))), "", `no "Jail list"`},
		{"list not a str", reply(item("Jail list", int64(0))), "", `no "Jail list"`},
		{"item not a pair", reply(pyTuple{"Jail list"}), "", "not a (name, value) pair"},
		{"result not a list", pyTuple{int64(0), "pong"}, "", `result is not a list: "pong"`},
		{"failed", pyTuple{int64(1), nil}, "", "status failed: code 1, result None"},
		{"error string", "ERROR: bad", "", `status answered "ERROR: bad"`},
		{"bare list", &pyList{}, "", "not a (code, result) pair: a list of 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jails, err := parseStatus(tc.reply)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("parseStatus = %q, %v; want an error containing %q", jails, err, tc.wantErr)
				}
				return
			}
			if err != nil || fmt.Sprint(jails) != tc.want {
				t.Errorf("parseStatus = %q, %v; want %s", jails, err, tc.want)
			}
		})
	}
}

// FuzzDecode: no input panics the decoder or the reply parser, and a
// decoded value renders.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"\x80\x05\x95\x3c\x00\x00\x00\x00\x00\x00\x00K\x00]\x94(\x8c\x0eNumber of jail\x94K\x02\x86\x94\x8c\tJail list\x94\x8c\x12postfix-sasl, sshd\x94\x86\x94e\x86\x94.",
		"\x80\x02K\x00]q\x00(X\x0e\x00\x00\x00Number of jailq\x01K\x02\x86q\x02X\t\x00\x00\x00Jail listq\x03X\x04\x00\x00\x00a, bq\x04\x86q\x05e\x86q\x06.",
		"\x80\x02]q\x00h\x00a.", // a list holding itself
		string(encodeStrings("status")),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decode(data)
		if err != nil {
			return
		}
		parseStatus(v)
		describe(v)
	})
}
