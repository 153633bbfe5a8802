package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc: fixed at 100 by the Linux
// ABI on every architecture Go supports.
const userHZ = 100

// procSet names the processes whose CPU use is reported beside ours.
type procSet struct {
	broker, collector int
}

// meter samples the CPU use of the processes over one measurement: a
// phase calls start when its clock starts and stop when it stops.
type meter struct {
	procs         procSet
	before, after cpuSample
}

func (m *meter) start() { m.before = m.procs.sample() }
func (m *meter) stop()  { m.after = m.procs.sample() }

// use is the CPU used between start and stop.
func (m *meter) use() cpuUse { return m.after.since(m.before) }

// cpuSample is the CPU time used so far, in clock ticks.
type cpuSample struct {
	self, broker, collector int64
	hasBroker, hasCollector bool
	postgres                map[int]int64 // by pid
	machineBusy             int64         // all CPUs, idle and iowait left out
	ok                      bool          // /proc was readable
}

// cpuUse is the CPU time used between two samples, in seconds.
type cpuUse struct {
	self, broker, collector, postgres, machine float64
	hasBroker, hasCollector, ok                bool
}

func (p procSet) sample() cpuSample {
	s := cpuSample{postgres: map[int]int64{}}
	var err error
	if s.self, err = procTicks("self"); err != nil {
		return s
	}
	s.ok = true
	if p.broker > 0 {
		s.broker, err = procTicks(strconv.Itoa(p.broker))
		s.hasBroker = err == nil
	}
	if p.collector > 0 {
		s.collector, err = procTicks(strconv.Itoa(p.collector))
		s.hasCollector = err == nil
	}
	// Every PostgreSQL process: the server may serve others too.
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, c := range comms {
		b, err := os.ReadFile(c) //nolint:gosec // a /proc/<pid>/comm path from the glob above
		if err != nil || strings.TrimSpace(string(b)) != "postgres" {
			continue
		}
		dir := filepath.Base(filepath.Dir(c))
		pid, _ := strconv.Atoi(dir)
		if t, err := procTicks(dir); err == nil {
			s.postgres[pid] = t
		}
	}
	s.machineBusy, _ = machineBusyTicks()
	return s
}

func (s cpuSample) since(before cpuSample) cpuUse {
	if !s.ok || !before.ok {
		return cpuUse{}
	}
	u := cpuUse{
		ok:        true,
		self:      float64(s.self-before.self) / userHZ,
		broker:    float64(s.broker-before.broker) / userHZ,
		collector: float64(s.collector-before.collector) / userHZ,
		machine:   float64(s.machineBusy-before.machineBusy) / userHZ,
	}
	u.hasBroker = s.hasBroker && before.hasBroker
	u.hasCollector = s.hasCollector && before.hasCollector
	// Processes that ended between the samples are not counted.
	for pid, t := range s.postgres {
		u.postgres += float64(t-before.postgres[pid]) / userHZ
	}
	return u
}

// String gives each figure in cores: CPU seconds per second of elapsed.
func (u cpuUse) String(elapsed time.Duration) string {
	if !u.ok || elapsed <= 0 {
		return "(no /proc)"
	}
	sec := elapsed.Seconds()
	f := func(v float64, has bool) string {
		if !has {
			return "-"
		}
		return fmt.Sprintf("%.2f", v/sec)
	}
	// What the machine did besides: other processes (a shared machine's
	// neighbours), kernel threads, and the listed ones' uncounted children.
	others := u.machine - u.self - u.broker - u.collector - u.postgres
	return strings.Join([]string{
		f(u.self, true), f(u.broker, u.hasBroker), f(u.collector, u.hasCollector),
		f(u.postgres, true), f(max(others, 0), true),
	}, " / ") + fmt.Sprintf(" (%.2f)", u.machine/sec)
}

// procTicks returns the user + system CPU ticks of a process.
func procTicks(pid string) (int64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat") //nolint:gosec // a process's /proc stat file
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis, where utime and stime are the 12th
	// and 13th (fields 14 and 15 of proc(5)).
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%s/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%s/stat: unexpected format", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%s/stat: unexpected format", pid)
	}
	return ut + st, nil
}

// machineBusyTicks returns the ticks all CPUs spent doing anything but
// idling, waiting for I/O or being stolen by the hypervisor.
func machineBusyTicks() (int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected format")
	}
	var busy int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		// user nice system idle iowait irq softirq steal guest guest_nice:
		// steal is the hypervisor's, guest time is already in user.
		switch i {
		case 3, 4, 7, 8, 9:
		default:
			busy += n
		}
	}
	return busy, nil
}
