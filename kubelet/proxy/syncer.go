package proxy

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/kubeseed/kubeseed/kubelet/proxy/lbmap"
	"github.com/kubeseed/kubeseed/kubelet/proxy/model"
)

type frontendKey struct {
	addr  netip.AddrPort
	proto uint8
}

type backendKey struct {
	addr  netip.AddrPort
	proto uint8
}

type frontendState struct {
	svcID    uint32
	affinity uint32
	flags    uint32
	backends []uint32 // backend IDs in slot order (slot i+1)
}

// syncer writes the model into the BPF maps. It remembers what the maps hold,
// so an update writes only what changed, and it starts from what it finds in
// (possibly pinned) maps, so a restarted agent reconciles instead of
// rewriting everything.
type syncer struct {
	mu sync.Mutex
	m  *lbmap.Maps
	// nodeIPs are the addresses NodePorts are reachable at from the node
	// (besides 127.0.0.1).
	nodeIPs []netip.Addr

	frontends map[frontendKey]*frontendState
	owners    map[model.ServiceName][]frontendKey // the frontends each service wrote
	ownerOf   map[frontendKey]model.ServiceName   // the service a frontend is for now
	backends  map[backendKey]uint32
	backendOf map[uint32]backendKey
	refs      map[uint32]int
	usedSvc   map[uint32]bool
	nextBE    uint32
	nextSvc   uint32
	// batch, during Replace, collects the writes to apply at once.
	batch *lbmap.Batch
}

func (s *syncer) putSlot(k lbmap.ServiceKey, v lbmap.ServiceValue) error {
	if s.batch != nil {
		s.batch.PutSlot(k, v)
		return nil
	}
	return s.m.UpdateSlot(k, v)
}

func (s *syncer) deleteSlot(k lbmap.ServiceKey) error {
	if s.batch != nil {
		s.batch.DeleteSlot(k)
		return nil
	}
	return s.m.DeleteSlot(k)
}

func (s *syncer) putBackend(id uint32, b lbmap.Backend) error {
	if s.batch != nil {
		s.batch.PutBackend(id, b)
		return nil
	}
	return s.m.UpdateBackend(id, b)
}

func (s *syncer) deleteBackend(id uint32) error {
	if s.batch != nil {
		s.batch.DeleteBackend(id)
		return nil
	}
	return s.m.DeleteBackend(id)
}

func protoNumber(p model.Protocol) (uint8, bool) {
	switch p {
	case model.TCP:
		return lbmap.ProtoTCP, true
	case model.UDP:
		return lbmap.ProtoUDP, true
	}
	return 0, false
}

// newSyncer reads the maps' current contents as its starting state.
func newSyncer(m *lbmap.Maps, nodeIPs ...netip.Addr) (*syncer, error) {
	s := &syncer{m: m, nodeIPs: nodeIPs}
	if err := s.adopt(); err != nil {
		return nil, err
	}
	return s, nil
}

// adopt sets the syncer's state from what the maps hold, repairing what an
// interrupted write left behind. After a failed write the syncer adopts again,
// so that it never believes the maps hold what they do not.
func (s *syncer) adopt() error {
	m := s.m
	prevOwners := s.owners
	s.frontends = map[frontendKey]*frontendState{}
	s.owners = map[model.ServiceName][]frontendKey{}
	s.ownerOf = map[frontendKey]model.ServiceName{}
	s.backends = map[backendKey]uint32{}
	s.backendOf = map[uint32]backendKey{}
	s.refs = map[uint32]int{}
	s.usedSvc = map[uint32]bool{}
	s.nextBE, s.nextSvc = 1, 1
	bes, err := m.AllBackends()
	if err != nil {
		return err
	}
	for id, b := range bes {
		k := backendKey{b.AddrPort(), b.Proto}
		if _, dup := s.backends[k]; dup {
			// Only a crash between writes leaves duplicates; drop the extra one.
			if err := m.DeleteBackend(id); err != nil {
				return err
			}
			continue
		}
		s.backends[k], s.backendOf[id] = id, k
		s.nextBE = max(s.nextBE, id+1)
	}
	slots, err := m.Slots()
	if err != nil {
		return err
	}
	for k, v := range slots {
		if k.Slot != 0 {
			continue
		}
		fs := &frontendState{svcID: v.ServiceID, affinity: v.AffinityTimeout, flags: v.Flags, backends: make([]uint32, v.Count)}
		for i := range fs.backends {
			sv, ok := slots[lbmap.ServiceKey{Addr: k.Addr, Port: k.Port, Proto: k.Proto, Slot: uint16(i + 1)}]
			if ok {
				fs.backends[i] = sv.BackendID
			}
		}
		fk := frontendKey{k.AddrPort(), k.Proto}
		s.frontends[fk] = fs
		s.usedSvc[fs.svcID] = true
		s.nextSvc = max(s.nextSvc, fs.svcID+1)
		for _, id := range fs.backends {
			s.refs[id]++
		}
	}
	// Frontends keep the owners the syncer knew; the others (all of them after
	// a restart) wait for the next full sync, which deletes what no service
	// claims.
	claimed := map[frontendKey]bool{}
	for name, fks := range prevOwners {
		if name == (model.ServiceName{}) {
			continue
		}
		for _, fk := range fks {
			if _, ok := s.frontends[fk]; ok && !claimed[fk] {
				claimed[fk] = true
				s.owners[name] = append(s.owners[name], fk)
				s.ownerOf[fk] = name
			}
		}
	}
	for fk := range s.frontends {
		if !claimed[fk] {
			s.owners[model.ServiceName{}] = append(s.owners[model.ServiceName{}], fk)
			s.ownerOf[fk] = model.ServiceName{}
		}
	}
	// Slots beyond a frontend's count, or of a frontend without slot 0, are
	// leftovers of an interrupted write.
	for k := range slots {
		fs, ok := s.frontends[frontendKey{k.AddrPort(), k.Proto}]
		if k.Slot != 0 && (!ok || int(k.Slot) > len(fs.backends)) {
			if err := m.DeleteSlot(k); err != nil {
				return err
			}
		}
	}
	for id := range s.backendOf {
		if s.refs[id] == 0 {
			if err := s.releaseBackend(id); err != nil {
				return err
			}
		}
	}
	return nil
}

// Replace makes the maps hold exactly services (a full sync), in batches.
func (s *syncer) Replace(services []*model.Service) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batch = &lbmap.Batch{}
	defer func() {
		b := s.batch
		s.batch = nil
		if err == nil {
			err = s.m.Apply(b)
		}
		if err != nil {
			err = errors.Join(err, s.adopt())
		}
	}()
	seen := map[model.ServiceName]bool{}
	for _, svc := range services {
		seen[svc.Name] = true
		if err := s.upsert(svc); err != nil {
			return err
		}
	}
	for name := range s.owners {
		if !seen[name] {
			if err := s.remove(name); err != nil {
				return err
			}
		}
	}
	return nil
}

// Upsert writes one service's frontends, removing those it no longer has.
func (s *syncer) Upsert(svc *model.Service) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.upsert(svc); err != nil {
		return errors.Join(err, s.adopt())
	}
	return nil
}

// Delete removes a service's frontends.
func (s *syncer) Delete(name model.ServiceName) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.remove(name); err != nil {
		return errors.Join(err, s.adopt())
	}
	return nil
}

func (s *syncer) upsert(svc *model.Service) error {
	var keys []frontendKey
	want := map[frontendKey]bool{}
	affinity := uint32(svc.AffinityTimeout.Seconds())
	write := func(fk frontendKey, backends []model.Backend, flags uint32) error {
		if want[fk] {
			return nil // a node port shared by two cluster IPs (dual-stack): once
		}
		keys = append(keys, fk)
		want[fk] = true
		// A cluster IP moves between services only through a delete and a
		// create, whose events may arrive in either order: the newest writer
		// owns the frontend.
		s.ownerOf[fk] = svc.Name
		if err := s.writeFrontend(fk, backends, affinity, flags); err != nil {
			return fmt.Errorf("service %s: %w", svc.Name, err)
		}
		return nil
	}
	loopback := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	for _, p := range svc.Ports {
		proto, ok := protoNumber(p.Frontend.Protocol)
		if !ok || (p.Frontend.IP.IsValid() && !p.Frontend.IP.Is4()) {
			continue // SCTP and IPv6 are not translated by the socket programs
		}
		// A pod's host port has no cluster IP, only its node port.
		if p.Frontend.IP.IsValid() {
			if err := write(frontendKey{netip.AddrPortFrom(p.Frontend.IP, p.Frontend.Port), proto}, p.Backends, 0); err != nil {
				return err
			}
		}
		if p.NodePort == 0 {
			continue
		}
		switch {
		case p.HostIP == loopback:
			if err := write(frontendKey{netip.AddrPortFrom(loopback, p.NodePort), proto}, p.NodePortBackends, lbmap.FlagHostOnly); err != nil {
				return err
			}
			continue
		case p.HostIP.IsValid():
			if err := write(frontendKey{netip.AddrPortFrom(p.HostIP, p.NodePort), proto}, p.NodePortBackends, 0); err != nil {
				return err
			}
			continue
		}
		for _, ip := range s.nodeIPs {
			if err := write(frontendKey{netip.AddrPortFrom(ip, p.NodePort), proto}, p.NodePortBackends, 0); err != nil {
				return err
			}
		}
		if err := write(frontendKey{netip.AddrPortFrom(loopback, p.NodePort), proto}, p.NodePortBackends, lbmap.FlagHostOnly); err != nil {
			return err
		}
	}
	for _, fk := range s.owners[svc.Name] {
		if !want[fk] && s.ownerOf[fk] == svc.Name {
			delete(s.ownerOf, fk)
			if err := s.deleteFrontend(fk); err != nil {
				return fmt.Errorf("service %s: %w", svc.Name, err)
			}
		}
	}
	s.owners[svc.Name] = keys
	// A frontend adopted from pinned maps now has its owner.
	if orphans := s.owners[model.ServiceName{}]; len(orphans) > 0 {
		kept := orphans[:0]
		for _, fk := range orphans {
			if !want[fk] {
				kept = append(kept, fk)
			}
		}
		s.owners[model.ServiceName{}] = kept
	}
	return nil
}

func (s *syncer) remove(name model.ServiceName) error {
	for _, fk := range s.owners[name] {
		if s.ownerOf[fk] != name {
			continue
		}
		delete(s.ownerOf, fk)
		if err := s.deleteFrontend(fk); err != nil {
			return fmt.Errorf("service %s: %w", name, err)
		}
	}
	delete(s.owners, name)
	return nil
}

// writeFrontend changes a frontend in an order that keeps every intermediate
// state valid for the programs: new backends first, then the slots, then the
// count, and only then the slots and backends no longer used.
func (s *syncer) writeFrontend(fk frontendKey, backends []model.Backend, affinity, flags uint32) error {
	ids := make([]uint32, 0, len(backends))
	for _, b := range backends {
		id, err := s.acquireBackend(backendKey{b.AddrPort(), fk.proto})
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	old, exists := s.frontends[fk]
	if exists {
		ids = stableSlots(old.backends, ids)
	}
	if exists && old.affinity == affinity && old.flags == flags && equalIDs(old.backends, ids) {
		for _, id := range ids {
			s.refs[id]-- // undo acquire: nothing changes
		}
		return nil
	}
	fs := &frontendState{affinity: affinity, flags: flags, backends: ids}
	if exists {
		fs.svcID = old.svcID
	} else {
		fs.svcID = s.allocSvcID()
	}
	for i, id := range ids {
		if exists && i < len(old.backends) && old.backends[i] == id {
			continue
		}
		if err := s.putSlot(lbmap.NewServiceKey(fk.addr, fk.proto, uint16(i+1)), lbmap.ServiceValue{BackendID: id, ServiceID: fs.svcID}); err != nil {
			return err
		}
	}
	if err := s.putSlot(lbmap.NewServiceKey(fk.addr, fk.proto, 0), lbmap.ServiceValue{Count: uint32(len(ids)), ServiceID: fs.svcID, AffinityTimeout: affinity, Flags: flags}); err != nil {
		return err
	}
	s.frontends[fk] = fs
	if exists {
		for i := len(ids); i < len(old.backends); i++ {
			if err := s.deleteSlot(lbmap.NewServiceKey(fk.addr, fk.proto, uint16(i+1))); err != nil {
				return err
			}
		}
		return s.unref(old.backends)
	}
	return nil
}

func (s *syncer) deleteFrontend(fk frontendKey) error {
	fs, ok := s.frontends[fk]
	if !ok {
		return nil
	}
	if err := s.deleteSlot(lbmap.NewServiceKey(fk.addr, fk.proto, 0)); err != nil {
		return err
	}
	for i := range fs.backends {
		if err := s.deleteSlot(lbmap.NewServiceKey(fk.addr, fk.proto, uint16(i+1))); err != nil {
			return err
		}
	}
	delete(s.frontends, fk)
	delete(s.usedSvc, fs.svcID)
	return s.unref(fs.backends)
}

func (s *syncer) unref(ids []uint32) error {
	for _, id := range ids {
		s.refs[id]--
		if s.refs[id] <= 0 {
			if err := s.releaseBackend(id); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *syncer) acquireBackend(k backendKey) (uint32, error) {
	id, ok := s.backends[k]
	if !ok {
		id = s.nextBE
		for s.backendOf[id] != (backendKey{}) || id == 0 {
			id++
		}
		s.nextBE = id + 1
		if err := s.putBackend(id, lbmap.NewBackend(k.addr, k.proto)); err != nil {
			return 0, err
		}
		s.backends[k], s.backendOf[id] = id, k
	}
	s.refs[id]++
	return id, nil
}

// releaseBackend deletes a backend no frontend uses; affinity entries that
// still name it then fall back to a fresh choice in the programs.
func (s *syncer) releaseBackend(id uint32) error {
	if err := s.deleteBackend(id); err != nil {
		return err
	}
	delete(s.backends, s.backendOf[id])
	delete(s.backendOf, id)
	delete(s.refs, id)
	return nil
}

func (s *syncer) allocSvcID() uint32 {
	id := s.nextSvc
	for s.usedSvc[id] || id == 0 {
		id++
	}
	s.nextSvc = id + 1
	s.usedSvc[id] = true
	return id
}

func equalIDs(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// stableSlots orders want so that backends keep the slots they had in old:
// affinity and UDP flow entries name a slot, and a backend that keeps its slot
// keeps its clients. New backends fill the holes left by removed ones, and
// when fewer arrive than left, the last slots move into the holes.
func stableSlots(old, want []uint32) []uint32 {
	wanted := make(map[uint32]bool, len(want))
	for _, id := range want {
		wanted[id] = true
	}
	out := make([]uint32, 0, max(len(old), len(want)))
	present := map[uint32]bool{}
	var holes []int
	for _, id := range old {
		if wanted[id] {
			present[id] = true
			out = append(out, id)
		} else {
			holes = append(holes, len(out))
			out = append(out, 0)
		}
	}
	for _, id := range want {
		if present[id] {
			continue
		}
		if len(holes) > 0 {
			out[holes[0]] = id
			holes = holes[1:]
		} else {
			out = append(out, id)
		}
	}
	// Fill the remaining holes, front first, with entries from the end.
	for _, h := range holes {
		for len(out) > 0 && out[len(out)-1] == 0 {
			out = out[:len(out)-1]
		}
		if h >= len(out) {
			break
		}
		out[h] = out[len(out)-1]
		out = out[:len(out)-1]
	}
	for len(out) > 0 && out[len(out)-1] == 0 {
		out = out[:len(out)-1]
	}
	return out
}
