package allocator

import (
	"fmt"
	"math/big"
	"net"
	"strconv"
	"strings"
)

// Range is a contiguous set of values indexed 0..Size-1.
type Range interface {
	// Size is the number of values.
	Size() int
	// Value renders index i.
	Value(i int) string
	// Index parses a value; ok is false when it lies outside the range.
	Index(v string) (i int, ok bool)
	// DynamicStart is the first index handed out automatically; lower indexes
	// are kept for values users (and the API server itself) ask for.
	DynamicStart() int
	// String describes the range for error messages.
	String() string
}

// IPRange is the service cluster IP range (IPv4). Index i is the address
// network+1+i: the network and broadcast addresses are never handed out.
type IPRange struct {
	cidr *net.IPNet
	base *big.Int
	size int
}

// ParseIPRange parses a CIDR like 10.96.0.0/12.
func ParseIPRange(cidr string) (*IPRange, error) {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, fmt.Errorf("service cluster IP range: %w", err)
	}
	if n.IP.To4() == nil {
		return nil, fmt.Errorf("service cluster IP range %s: only IPv4 is supported", cidr)
	}
	ones, bits := n.Mask.Size()
	if bits-ones < 2 || bits-ones > 24 {
		return nil, fmt.Errorf("service cluster IP range %s: prefix must be between /8 and /30", cidr)
	}
	return &IPRange{cidr: n, base: new(big.Int).SetBytes(n.IP.To4()), size: 1<<(bits-ones) - 2}, nil
}

func (r *IPRange) Size() int { return r.size }

func (r *IPRange) Value(i int) string {
	v := new(big.Int).Add(r.base, big.NewInt(int64(i+1))).Bytes()
	ip := make(net.IP, 4)
	copy(ip[4-len(v):], v)
	return ip.String()
}

func (r *IPRange) Index(v string) (int, bool) {
	ip := net.ParseIP(v).To4()
	if ip == nil || !r.cidr.Contains(ip) {
		return 0, false
	}
	i := int(new(big.Int).Sub(new(big.Int).SetBytes(ip), r.base).Int64()) - 1
	return i, i >= 0 && i < r.size
}

// DynamicStart keeps the lower band (at least 16, at most 256 addresses) for
// static assignments such as the kubernetes service's first address, as
// upstream does.
func (r *IPRange) DynamicStart() int {
	band := min(max(16, r.size/16), 256)
	if band >= r.size {
		return 0
	}
	return band
}

func (r *IPRange) String() string { return r.cidr.String() }

// FirstIP returns the range's first usable address: the kubernetes service's.
func (r *IPRange) FirstIP() string { return r.Value(0) }

// PortRange is the service node port range.
type PortRange struct {
	Base, Count int
}

// ParsePortRange parses "30000-32767" (inclusive).
func ParsePortRange(s string) (*PortRange, error) {
	lo, hi, ok := strings.Cut(s, "-")
	a, err1 := strconv.Atoi(strings.TrimSpace(lo))
	b, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if !ok || err1 != nil || err2 != nil || a < 1 || b > 65535 || b < a {
		return nil, fmt.Errorf("service node port range %q: want LOW-HIGH within 1-65535", s)
	}
	return &PortRange{Base: a, Count: b - a + 1}, nil
}

func (r *PortRange) Size() int          { return r.Count }
func (r *PortRange) Value(i int) string { return strconv.Itoa(r.Base + i) }
func (r *PortRange) Index(v string) (int, bool) {
	p, err := strconv.Atoi(v)
	return p - r.Base, err == nil && p >= r.Base && p < r.Base+r.Count
}
func (r *PortRange) DynamicStart() int { return 0 }
func (r *PortRange) String() string    { return fmt.Sprintf("%d-%d", r.Base, r.Base+r.Count-1) }

// pick returns a free index at or after start in the dynamic part of the
// range, wrapping around; ok is false when the dynamic part is full.
func pick(r Range, used map[int]bool, start int) (int, bool) {
	lo, n := r.DynamicStart(), r.Size()-r.DynamicStart()
	if n <= 0 {
		return 0, false
	}
	off := ((start-lo)%n + n) % n
	for k := range n {
		i := lo + (off+k)%n
		if !used[i] {
			return i, true
		}
	}
	return 0, false
}
