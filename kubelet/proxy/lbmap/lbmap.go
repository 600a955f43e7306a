package lbmap

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf"
)

// Protocol numbers as the kernel's sockets report them.
const (
	ProtoTCP uint8 = 6
	ProtoUDP uint8 = 17
)

// ServiceKey addresses one slot of a frontend: slot 0 holds the frontend's
// backend count, slots 1..count its backends. Layout: struct svc_key in lb.c.
type ServiceKey struct {
	Addr  [4]byte // network byte order
	Port  [2]byte // network byte order
	Proto uint8
	_     uint8
	Slot  uint16
	_     uint16
}

// NewServiceKey returns the key of a frontend's slot.
func NewServiceKey(addr netip.AddrPort, proto uint8, slot uint16) ServiceKey {
	return ServiceKey{Addr: addr.Addr().As4(), Port: beport(addr.Port()), Proto: proto, Slot: slot}
}

// AddrPort returns the frontend address the key belongs to.
func (k ServiceKey) AddrPort() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4(k.Addr), uint16(k.Port[0])<<8|uint16(k.Port[1]))
}

// Frontend returns the key of the frontend's slot 0.
func (k ServiceKey) Frontend() ServiceKey {
	k.Slot = 0
	return k
}

// ServiceValue is a slot's value. Layout: struct svc_value in lb.c.
type ServiceValue struct {
	Count           uint32 // slot 0: number of backends (0 refuses connections)
	BackendID       uint32 // slots > 0
	ServiceID       uint32 // identifies the frontend in affinity entries
	AffinityTimeout uint32 // seconds; 0 means none
	Flags           uint32 // FlagHostOnly
}

// FlagHostOnly limits a frontend to sockets in the node's network namespace
// (127.0.0.1:<nodePort>, which inside a pod means the pod itself).
const FlagHostOnly uint32 = 1

// Backend is an endpoint address. Layout: struct backend in lb.c.
type Backend struct {
	Addr  [4]byte
	Port  [2]byte
	Proto uint8
	_     uint8
}

// NewBackend returns the map value for an endpoint address.
func NewBackend(addr netip.AddrPort, proto uint8) Backend {
	return Backend{Addr: addr.Addr().As4(), Port: beport(addr.Port()), Proto: proto}
}

// AddrPort returns the backend's address.
func (b Backend) AddrPort() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4(b.Addr), uint16(b.Port[0])<<8|uint16(b.Port[1]))
}

func beport(p uint16) [2]byte { return [2]byte{byte(p >> 8), byte(p)} }

// Maps are the proxy's BPF maps, by role.
type Maps struct {
	Services *ebpf.Map // ServiceKey -> ServiceValue
	Backends *ebpf.Map // uint32 backend ID -> Backend
	RevNat   *ebpf.Map // per socket: backend -> frontend, for replies
	Affinity *ebpf.Map // per client netns and frontend: the sticky backend
	Flows    *ebpf.Map // per unconnected UDP socket and frontend: its backend
}

// UpdateSlot writes one frontend slot.
func (m *Maps) UpdateSlot(k ServiceKey, v ServiceValue) error {
	if err := m.Services.Put(k, v); err != nil {
		return fmt.Errorf("writing frontend %s slot %d: %w", k.AddrPort(), k.Slot, err)
	}
	return nil
}

// DeleteSlot removes one frontend slot; a missing slot is not an error.
func (m *Maps) DeleteSlot(k ServiceKey) error {
	if err := m.Services.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("deleting frontend %s slot %d: %w", k.AddrPort(), k.Slot, err)
	}
	return nil
}

// UpdateBackend writes a backend.
func (m *Maps) UpdateBackend(id uint32, b Backend) error {
	if err := m.Backends.Put(id, b); err != nil {
		return fmt.Errorf("writing backend %d (%s): %w", id, b.AddrPort(), err)
	}
	return nil
}

// DeleteBackend removes a backend; a missing backend is not an error.
func (m *Maps) DeleteBackend(id uint32) error {
	if err := m.Backends.Delete(id); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("deleting backend %d: %w", id, err)
	}
	return nil
}

// Slots returns every frontend slot in the map.
func (m *Maps) Slots() (map[ServiceKey]ServiceValue, error) {
	out := map[ServiceKey]ServiceValue{}
	var (
		k ServiceKey
		v ServiceValue
	)
	it := m.Services.Iterate()
	for it.Next(&k, &v) {
		out[k] = v
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("reading frontends: %w", err)
	}
	return out, nil
}

// AllBackends returns every backend in the map by ID.
func (m *Maps) AllBackends() (map[uint32]Backend, error) {
	out := map[uint32]Backend{}
	var (
		k uint32
		v Backend
	)
	it := m.Backends.Iterate()
	for it.Next(&k, &v) {
		out[k] = v
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("reading backends: %w", err)
	}
	return out, nil
}

// Batch collects writes to apply with few system calls, in an order that
// keeps the maps valid for the programs at every step: new backends, then
// backend slots, then frontend counts, then removals.
type Batch struct {
	backendIDs   []uint32
	backends     []Backend
	slotKeys     []ServiceKey
	slotValues   []ServiceValue
	countKeys    []ServiceKey
	countValues  []ServiceValue
	delCounts    []ServiceKey
	delSlots     []ServiceKey
	delBackendID []uint32
}

// PutBackend queues a backend write.
func (b *Batch) PutBackend(id uint32, be Backend) {
	b.backendIDs, b.backends = append(b.backendIDs, id), append(b.backends, be)
}

// PutSlot queues a slot write.
func (b *Batch) PutSlot(k ServiceKey, v ServiceValue) {
	if k.Slot == 0 {
		b.countKeys, b.countValues = append(b.countKeys, k), append(b.countValues, v)
		return
	}
	b.slotKeys, b.slotValues = append(b.slotKeys, k), append(b.slotValues, v)
}

// DeleteSlot queues a slot removal.
func (b *Batch) DeleteSlot(k ServiceKey) {
	if k.Slot == 0 {
		b.delCounts = append(b.delCounts, k)
		return
	}
	b.delSlots = append(b.delSlots, k)
}

// DeleteBackend queues a backend removal.
func (b *Batch) DeleteBackend(id uint32) { b.delBackendID = append(b.delBackendID, id) }

// Apply writes the batch.
func (m *Maps) Apply(b *Batch) error {
	if err := batchPut(m.Backends, b.backendIDs, b.backends); err != nil {
		return fmt.Errorf("writing backends: %w", err)
	}
	if err := batchPut(m.Services, b.slotKeys, b.slotValues); err != nil {
		return fmt.Errorf("writing frontend slots: %w", err)
	}
	if err := batchPut(m.Services, b.countKeys, b.countValues); err != nil {
		return fmt.Errorf("writing frontends: %w", err)
	}
	for _, k := range append(b.delCounts, b.delSlots...) {
		if err := m.DeleteSlot(k); err != nil {
			return err
		}
	}
	for _, id := range b.delBackendID {
		if err := m.DeleteBackend(id); err != nil {
			return err
		}
	}
	return nil
}

// batchPut writes keys and values in chunks, falling back to one write per
// entry on kernels without batch operations.
func batchPut[K, V any](m *ebpf.Map, keys []K, values []V) error {
	const chunk = 8192
	for i := 0; i < len(keys); i += chunk {
		j := min(i+chunk, len(keys))
		_, err := m.BatchUpdate(keys[i:j], values[i:j], nil)
		if errors.Is(err, ebpf.ErrNotSupported) {
			for k := i; k < j; k++ {
				if err := m.Put(keys[k], values[k]); err != nil {
					return err
				}
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}
