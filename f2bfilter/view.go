package f2bfilter

import "unsafe"

// bytesString and stringBytes view the same memory as the other type, without a copy, for
// Matcher.LineBytes and the prefilter: the view is read only, and not kept beyond the call.

func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func stringBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
