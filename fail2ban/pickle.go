package fail2ban

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// The fail2ban socket speaks Python pickle (fail2ban 1.0.2
// client/csocket.py, server/asyncserver.py). This file holds the smallest
// part of pickle that the status exchange needs:
//
//   - encodeStrings writes a list of strings, as protocol 2, for the request;
//   - decode reads protocols 2 to 5 made of None, booleans, small ints,
//     str, tuples and lists, with memo and frames: what Python's pickle.dumps
//     writes for the reply (0, [("Number of jail", 2), ("Jail list", "a, b")]).
//
// Any other opcode is an error. In particular nothing that names or calls a
// Python object (GLOBAL, STACK_GLOBAL, REDUCE, BUILD, ...) is decoded, so a
// reply is only ever data.

// pyList is a Python list. It is a pointer so that a memoized list seen again
// through the memo is the same list that later APPENDs fill.
type pyList struct{ items []any }

// pyTuple is a Python tuple.
type pyTuple []any

// maxReply bounds the size of a reply read from the socket: a status reply
// is a few hundred bytes even with many jails.
const maxReply = 1 << 20

const (
	opProto           = 0x80
	opFrame           = 0x95
	opStop            = '.'
	opMark            = '('
	opNone            = 'N'
	opNewTrue         = 0x88
	opNewFalse        = 0x89
	opBinInt          = 'J'
	opBinInt1         = 'K'
	opBinInt2         = 'M'
	opBinUnicode      = 'X'
	opShortBinUnicode = 0x8c
	opBinUnicode8     = 0x8d
	opEmptyList       = ']'
	opEmptyTuple      = ')'
	opTuple           = 't'
	opTuple1          = 0x85
	opTuple2          = 0x86
	opTuple3          = 0x87
	opAppend          = 'a'
	opAppends         = 'e'
	opMemoize         = 0x94
	opBinPut          = 'q'
	opLongBinPut      = 'r'
	opBinGet          = 'h'
	opLongBinGet      = 'j'
)

// encodeStrings returns the protocol 2 pickle of a list of str, such as
// ['status'].
func encodeStrings(ss ...string) []byte {
	b := []byte{opProto, 2, opEmptyList, opMark}
	for _, s := range ss {
		b = append(b, opBinUnicode)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return append(b, opAppends, opStop)
}

// decode returns the value of one pickle that must fill data exactly: nil,
// bool, int64, string, pyTuple or *pyList.
func decode(data []byte) (any, error) {
	d := decoder{data: data, memo: map[uint32]any{}}
	v, err := d.run()
	if err != nil {
		return nil, fmt.Errorf("decode pickle at byte %d: %w", d.pos, err)
	}
	return v, nil
}

type decoder struct {
	data  []byte
	pos   int
	stack []any
	marks []int // stack lengths at each MARK
	memo  map[uint32]any
}

var errShort = errors.New("truncated")

// take returns the next n bytes.
func (d *decoder) take(n uint64) ([]byte, error) {
	if n > uint64(len(d.data)-d.pos) {
		return nil, errShort
	}
	b := d.data[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return b, nil
}

func (d *decoder) uint(size int) (uint64, error) {
	b, err := d.take(uint64(size))
	if err != nil {
		return 0, err
	}
	switch size {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.LittleEndian.Uint16(b)), nil
	case 4:
		return uint64(binary.LittleEndian.Uint32(b)), nil
	default:
		return binary.LittleEndian.Uint64(b), nil
	}
}

func (d *decoder) str(lenSize int) (string, error) {
	n, err := d.uint(lenSize)
	if err != nil {
		return "", err
	}
	b, err := d.take(n)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", errors.New("str is not valid UTF-8")
	}
	return string(b), nil
}

func (d *decoder) push(v any) { d.stack = append(d.stack, v) }

func (d *decoder) top() (any, error) {
	if len(d.stack) == 0 || (len(d.marks) > 0 && len(d.stack) == d.marks[len(d.marks)-1]) {
		return nil, errors.New("stack underflow")
	}
	return d.stack[len(d.stack)-1], nil
}

// popN removes and returns the top n items.
func (d *decoder) popN(n int) ([]any, error) {
	floor := 0
	if len(d.marks) > 0 {
		floor = d.marks[len(d.marks)-1]
	}
	if len(d.stack)-floor < n {
		return nil, errors.New("stack underflow")
	}
	items := append([]any(nil), d.stack[len(d.stack)-n:]...)
	d.stack = d.stack[:len(d.stack)-n]
	return items, nil
}

// popMark removes and returns the items above the last MARK, and the MARK.
func (d *decoder) popMark() ([]any, error) {
	if len(d.marks) == 0 {
		return nil, errors.New("no mark")
	}
	m := d.marks[len(d.marks)-1]
	d.marks = d.marks[:len(d.marks)-1]
	items := append([]any(nil), d.stack[m:]...)
	d.stack = d.stack[:m]
	return items, nil
}

func (d *decoder) appendTo(items []any) error {
	v, err := d.top()
	if err != nil {
		return err
	}
	l, ok := v.(*pyList)
	if !ok {
		return fmt.Errorf("append to %T, not a list", v)
	}
	l.items = append(l.items, items...)
	return nil
}

func (d *decoder) put(idx uint64) error {
	v, err := d.top()
	if err != nil {
		return err
	}
	d.memo[uint32(idx)] = v
	return nil
}

func (d *decoder) get(idx uint64) error {
	v, ok := d.memo[uint32(idx)]
	if !ok {
		return fmt.Errorf("memo %d not set", idx)
	}
	d.push(v)
	return nil
}

func (d *decoder) run() (any, error) {
	for {
		op, err := d.take(1)
		if err != nil {
			return nil, err
		}
		switch op[0] {
		case opProto:
			v, err := d.uint(1)
			if err != nil {
				return nil, err
			}
			if v > 5 {
				return nil, fmt.Errorf("pickle protocol %d", v)
			}
		case opFrame:
			if _, err := d.uint(8); err != nil { // a frame only groups what follows
				return nil, err
			}
		case opStop:
			if len(d.marks) != 0 || len(d.stack) != 1 {
				return nil, fmt.Errorf("stop with %d items and %d marks on the stack", len(d.stack), len(d.marks))
			}
			if d.pos != len(d.data) {
				return nil, fmt.Errorf("%d bytes after stop", len(d.data)-d.pos)
			}
			return d.stack[0], nil
		case opMark:
			d.marks = append(d.marks, len(d.stack))
		case opNone:
			d.push(nil)
		case opNewTrue:
			d.push(true)
		case opNewFalse:
			d.push(false)
		case opBinInt1, opBinInt2:
			size := 1
			if op[0] == opBinInt2 {
				size = 2
			}
			v, err := d.uint(size)
			if err != nil {
				return nil, err
			}
			d.push(int64(v))
		case opBinInt:
			v, err := d.uint(4)
			if err != nil {
				return nil, err
			}
			d.push(int64(int32(uint32(v))))
		case opShortBinUnicode, opBinUnicode, opBinUnicode8:
			size := map[byte]int{opShortBinUnicode: 1, opBinUnicode: 4, opBinUnicode8: 8}[op[0]]
			s, err := d.str(size)
			if err != nil {
				return nil, err
			}
			d.push(s)
		case opEmptyList:
			d.push(&pyList{})
		case opEmptyTuple:
			d.push(pyTuple{})
		case opTuple1, opTuple2, opTuple3:
			items, err := d.popN(int(op[0]-opTuple1) + 1)
			if err != nil {
				return nil, err
			}
			d.push(pyTuple(items))
		case opTuple:
			items, err := d.popMark()
			if err != nil {
				return nil, err
			}
			d.push(pyTuple(items))
		case opAppend:
			items, err := d.popN(1)
			if err != nil {
				return nil, err
			}
			if err := d.appendTo(items); err != nil {
				return nil, err
			}
		case opAppends:
			items, err := d.popMark()
			if err != nil {
				return nil, err
			}
			if err := d.appendTo(items); err != nil {
				return nil, err
			}
		case opMemoize:
			if err := d.put(uint64(len(d.memo))); err != nil {
				return nil, err
			}
		case opBinPut, opLongBinPut:
			size := 1
			if op[0] == opLongBinPut {
				size = 4
			}
			idx, err := d.uint(size)
			if err != nil {
				return nil, err
			}
			if err := d.put(idx); err != nil {
				return nil, err
			}
		case opBinGet, opLongBinGet:
			size := 1
			if op[0] == opLongBinGet {
				size = 4
			}
			idx, err := d.uint(size)
			if err != nil {
				return nil, err
			}
			if err := d.get(idx); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unsupported opcode 0x%02x", op[0])
		}
	}
}
