package allocator

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path"
	"sort"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Errors callers turn into upstream's validation messages.
var (
	ErrAllocated  = errors.New("provided value is already allocated")
	ErrNotInRange = errors.New("provided value is not in the valid range")
	ErrFull       = errors.New("range is full")
)

// Allocator allocates values of one Range, recording each under Prefix in etcd.
type Allocator struct {
	Range  Range
	Client *clientv3.Client
	// Prefix is the etcd key prefix, e.g. /registry/kubeseed/serviceips/.
	Prefix string
}

// attempts bounds retries when concurrent allocators race for the same value.
const attempts = 8

// Allocate claims a free value for owner and returns it.
func (a *Allocator) Allocate(ctx context.Context, owner string) (string, error) {
	for range attempts {
		used, err := a.used(ctx)
		if err != nil {
			return "", err
		}
		i, ok := pick(a.Range, used, rand.IntN(a.Range.Size()))
		if !ok {
			return "", fmt.Errorf("allocating from %s: %w", a.Range, ErrFull)
		}
		v := a.Range.Value(i)
		err = a.Claim(ctx, v, owner)
		if errors.Is(err, ErrAllocated) {
			continue
		}
		return v, err
	}
	return "", fmt.Errorf("allocating from %s: gave up after %d races", a.Range, attempts)
}

// Claim records v for owner if no one holds it.
func (a *Allocator) Claim(ctx context.Context, v, owner string) error {
	i, ok := a.Range.Index(v)
	if !ok {
		return ErrNotInRange
	}
	key := a.key(a.Range.Value(i))
	resp, err := a.Client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, owner)).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return fmt.Errorf("claiming %s: %w", v, err)
	}
	if !resp.Succeeded {
		// Claiming a value one already holds is not a conflict (retries, restarts).
		if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) == 1 && string(kvs[0].Value) == owner {
			return nil
		}
		return ErrAllocated
	}
	return nil
}

// Release frees v. Releasing a value no one holds is not an error.
func (a *Allocator) Release(ctx context.Context, v string) error {
	i, ok := a.Range.Index(v)
	if !ok {
		return nil
	}
	if _, err := a.Client.Delete(ctx, a.key(a.Range.Value(i))); err != nil {
		return fmt.Errorf("releasing %s: %w", v, err)
	}
	return nil
}

// Claim is one allocation: who holds it and the etcd revision that wrote it.
type Claim struct {
	Owner    string
	Revision int64
}

// Claims returns every allocated value.
func (a *Allocator) Claims(ctx context.Context) (map[string]Claim, error) {
	resp, err := a.Client.Get(ctx, a.Prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("listing allocations under %s: %w", a.Prefix, err)
	}
	out := make(map[string]Claim, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[path.Base(string(kv.Key))] = Claim{Owner: string(kv.Value), Revision: kv.ModRevision}
	}
	return out, nil
}

// Leaked returns the claimed values no object uses: claims written at or
// before revision (when inUse was read) whose value is not in inUse. Later
// claims may belong to creates still in flight and are left alone.
func Leaked(claims map[string]Claim, inUse map[string]bool, revision int64) []string {
	var out []string
	for v, c := range claims {
		if c.Revision <= revision && !inUse[v] {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

func (a *Allocator) used(ctx context.Context) (map[int]bool, error) {
	resp, err := a.Client.Get(ctx, a.Prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("listing allocations under %s: %w", a.Prefix, err)
	}
	used := make(map[int]bool, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		if i, ok := a.Range.Index(path.Base(string(kv.Key))); ok {
			used[i] = true
		}
	}
	return used, nil
}

func (a *Allocator) key(v string) string { return a.Prefix + v }
