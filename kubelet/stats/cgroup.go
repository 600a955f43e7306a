package stats

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Usage is one reading of cumulative CPU time and current memory.
type Usage struct {
	CPUSeconds      float64
	WorkingSetBytes uint64
	At              time.Time
}

// Cgroups reads containers' usage from their cgroups, laid out as the
// node agent creates them: <parent>/pod<uid>/<container id>.
type Cgroups struct {
	// Root is where cgroup file systems are mounted (default /sys/fs/cgroup).
	Root string
	// Parent holds the pods' cgroups (default /kubeseed).
	Parent string
}

func (c Cgroups) root() string {
	if c.Root == "" {
		return "/sys/fs/cgroup"
	}
	return c.Root
}

func (c Cgroups) parent() string {
	if c.Parent == "" {
		return "/kubeseed"
	}
	return c.Parent
}

// unified says the host runs cgroup v2 only (runc then puts containers
// there rather than in the v1 controllers' hierarchies).
func (c Cgroups) unified() bool {
	_, err := os.Stat(filepath.Join(c.root(), "cgroup.controllers"))
	return err == nil
}

// Container reads one container's usage.
func (c Cgroups) Container(podUID, id string) (Usage, error) {
	rel := filepath.Join(c.parent(), "pod"+podUID, id)
	u := Usage{At: time.Now()}
	if c.unified() {
		dir := filepath.Join(c.root(), rel)
		stat, err := keyed(filepath.Join(dir, "cpu.stat"))
		if err != nil {
			return u, err
		}
		u.CPUSeconds = float64(stat["usage_usec"]) / 1e6
		cur, err := number(filepath.Join(dir, "memory.current"))
		if err != nil {
			return u, err
		}
		mem, err := keyed(filepath.Join(dir, "memory.stat"))
		if err != nil {
			return u, err
		}
		u.WorkingSetBytes = workingSet(cur, mem["inactive_file"])
		return u, nil
	}
	ns, err := number(filepath.Join(c.root(), "cpuacct", rel, "cpuacct.usage"))
	if err != nil {
		return u, err
	}
	u.CPUSeconds = float64(ns) / 1e9
	usage, err := number(filepath.Join(c.root(), "memory", rel, "memory.usage_in_bytes"))
	if err != nil {
		return u, err
	}
	mem, err := keyed(filepath.Join(c.root(), "memory", rel, "memory.stat"))
	if err != nil {
		return u, err
	}
	u.WorkingSetBytes = workingSet(usage, mem["total_inactive_file"])
	return u, nil
}

func workingSet(usage, inactiveFile uint64) uint64 {
	if inactiveFile > usage {
		return 0
	}
	return usage - inactiveFile
}

// Node reads the whole machine's usage from /proc (procRoot, default /proc):
// CPU time of every state but idle and iowait, and memory in use less
// inactive file pages.
func Node(procRoot string) (Usage, error) {
	if procRoot == "" {
		procRoot = "/proc"
	}
	u := Usage{At: time.Now()}
	data, err := os.ReadFile(filepath.Join(procRoot, "stat"))
	if err != nil {
		return u, err
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 8 || f[0] != "cpu" {
		return u, fmt.Errorf("stats: unexpected %s/stat first line %q", procRoot, line)
	}
	// user nice system idle iowait irq softirq steal ...; guest time is
	// already counted in user.
	var busy uint64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return u, fmt.Errorf("stats: %s/stat: %w", procRoot, err)
		}
		busy += n
	}
	// /proc/stat counts in USER_HZ, 100 on every Linux architecture Go runs on.
	u.CPUSeconds = float64(busy) / 100
	mem, err := keyed(filepath.Join(procRoot, "meminfo"))
	if err != nil {
		return u, err
	}
	// meminfo is in kB.
	used := mem["MemTotal:"] - mem["MemFree:"]
	u.WorkingSetBytes = workingSet(used, mem["Inactive(file):"]) * 1024
	return u, nil
}

func number(path string) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
}

// keyed reads "key value" lines (cgroup stat files, /proc/meminfo).
func keyed(path string) (map[string]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		if n, err := strconv.ParseUint(fields[1], 10, 64); err == nil {
			out[fields[0]] = n
		}
	}
	return out, sc.Err()
}
