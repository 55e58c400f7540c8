package state

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"unsafe"
)

// Save ends the file with a seal: `,"seal":"xxxxxxxx"}` and a newline, where xxxxxxxx is the
// CRC-32C (hex) of every byte before the comma. A file whose seal matches is byte for byte as
// a Save of this program wrote it, from a state that passed every check when it was loaded or
// made: LoadLazy then need not check its addresses and numbers again, and leaves the bans, the
// ban history and the history's ban spans as the text they are (see lazybans.go) until a run
// changes them. A file edited by hand (or by jq), or damaged, no longer matches its seal and
// is checked entry by entry as before; the next Save seals it again. The seal guards against
// mistakes, not against an attacker: whoever can write the state file can write bans into it.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	sealKey = `,"seal":"`
	// sealLen is the length of the seal: the key, 8 hex digits, `"}` and the newline.
	sealLen = len(sealKey) + 8 + 3
)

// sealSuffix returns the end of a sealed file whose bytes before the seal have the CRC sum.
func sealSuffix(sum uint32) string { return fmt.Sprintf(`%s%08x"}`+"\n", sealKey, sum) }

// unseal removes the seal from data, which must be the caller's to change, and reports whether
// it matched: a file ending `,"seal":"xxxxxxxx"}` (white space after it allowed) becomes the
// same document without the field, whether or not xxxxxxxx is the sum of what precedes it.
func unseal(data []byte) ([]byte, bool) {
	end := len(bytes.TrimRight(data, " \t\r\n"))
	i := end - (sealLen - 1)
	if i < 0 || string(data[i:i+len(sealKey)]) != sealKey || string(data[end-2:end]) != `"}` {
		return data, false
	}
	var want uint32
	hex := true
	for _, c := range data[i+len(sealKey) : end-2] {
		switch {
		case c >= '0' && c <= '9':
			want = want<<4 | uint32(c-'0')
		case c >= 'a' && c <= 'f':
			want = want<<4 | uint32(c-'a'+10)
		default:
			hex = false
		}
	}
	ok := hex && crc32.Checksum(data[:i], castagnoli) == want
	data[i], data[i+1] = '}', '\n'
	return data[:i+2], ok
}

// crcSink passes what it is given to w and sums it.
type crcSink struct {
	w   sink
	crc uint32
}

func (c *crcSink) Write(p []byte) (int, error) {
	c.crc = crc32.Update(c.crc, castagnoli, p)
	return c.w.Write(p)
}

func (c *crcSink) WriteString(s string) (int, error) {
	c.crc = crc32.Update(c.crc, castagnoli, bytesOf(s))
	return c.w.WriteString(s)
}

// stringOf returns b as a string without a copy: b must not change after.
func stringOf(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// bytesOf returns the bytes of s without a copy, for reading only.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// writeSealed writes d to w followed by its seal.
func (d *doc) writeSealed(w sink) {
	c := &crcSink{w: w}
	glue := bytes.TrimSuffix(d.glue, []byte("}\n")) // the glue ends the document (encodeDoc)
	d.writeTo(c, glue, 0)
	w.WriteString(sealSuffix(c.crc))
}
