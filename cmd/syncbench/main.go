package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "syncbench:", err)
		os.Exit(1)
	}
}

const usage = `usage: syncbench fanout|writers|idle|catchup|relay|jsceiling [flags]   (syncbench <cmd> -h for flags)`

// result is one configuration's runs and their medians.
type result struct {
	Workload string         `json:"workload"`
	Server   string         `json:"server"`
	Store    string         `json:"store,omitempty"`
	N        int            `json:"n"` // subscribers or clients
	Median   map[string]any `json:"median"`
	Runs     []any          `json:"runs"`
	Error    string         `json:"error,omitempty"`
	raw      []map[string]float64
}

// report is the JSON written to -out.
type report struct {
	Command   []string  `json:"command"`
	Started   time.Time `json:"started"`
	GoVersion string    `json:"goVersion"`
	CPUs      int       `json:"cpus"`
	Pinned    bool      `json:"pinned"`
	SyncdArgs []string  `json:"syncdFlags"`
	Params    any       `json:"params"`
	Results   []*result `json:"results"`
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmd, args := args[0], args[1:]
	if cmd == "relay" {
		return runRelay(ctx, args, stdout)
	}
	if cmd == "jsceiling" {
		return runJSCeiling(ctx, args, stdout)
	}
	if cmd != "fanout" && cmd != "writers" && cmd != "idle" && cmd != "catchup" {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	servers := fs.String("server", "syncd,relay", "servers to measure, in this order: syncd and/or relay")
	counts := fs.String("n", "", "fanout: subscribers (default 100,1000); writers: clients (default 10,100); idle: connections (default 2000,10000); catchup: revisions behind (default 10,1000,100000)")
	fs.StringVar(counts, "subs", "", "alias of -n for fanout")
	fs.StringVar(counts, "clients", "", "alias of -n for writers")
	stores := fs.String("store", "", "syncd stores: bolt, memory, nats (one syncd with an embedded NATS node) and/or nats3 (three syncd processes with embedded NATS nodes as one cluster, replicas 3; connections spread over them) (default: fanout bolt, writers bolt,memory)")
	runs := fs.Int("runs", 3, "runs per configuration (medians are reported)")
	warmup := fs.Duration("warmup", 2*time.Second, "warm-up before each measured window")
	duration := fs.Duration("duration", 5*time.Second, "measured window")
	window := fs.Int("window", 64, "fanout: most unacknowledged edits")
	editBytes := fs.Int("edit-bytes", 100, "bytes of each edit's patch")
	docs := fs.Int("docs", 1, "writers: documents the clients are spread over (client i edits document i mod docs; with -docs equal to the clients, nobody sees another's edits)")
	keys := fs.String("keys", "roundrobin", "catchup: keys the edits behind touch: roundrobin (each key once per 1,000 edits; only its stamp changes) or random (uniform over the 1,000 keys, fixed seed)")
	syncdBin := fs.String("syncd-bin", "", "syncd binary (default: go build it)")
	pin := fs.Bool("pin", true, "pin the server to CPU 0 and this process to CPU 1 (taskset)")
	out := fs.String("out", "", "write JSON results to this file")
	cpuProfile := fs.String("cpuprofile", "", "write the generator's CPU profile to this file (is the generator the bottleneck?)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *runs < 1 || *runs > 20 || *duration <= 0 || *duration > 10*time.Minute || *warmup < 0 || *window < 1 || *docs < 1 {
		return errors.New("want 1 ≤ -runs ≤ 20, 0 < -duration ≤ 10m, -warmup ≥ 0, -window ≥ 1, -docs ≥ 1")
	}
	if *keys != "roundrobin" && *keys != "random" {
		return errors.New("want -keys roundrobin or random")
	}
	if *counts == "" {
		*counts = map[string]string{"fanout": "100,1000", "writers": "10,100", "idle": "2000,10000", "catchup": "10,1000,100000"}[cmd]
	}
	if *stores == "" {
		*stores = map[string]string{"fanout": "bolt", "writers": "bolt,memory", "idle": "bolt", "catchup": "bolt"}[cmd]
	}
	ns, err := ints(*counts)
	if err != nil {
		return err
	}
	p := params{warmup: *warmup, duration: *duration, window: *window, editBytes: *editBytes, keys: *keys, docs: *docs}

	rep := report{Command: append([]string{"syncbench", cmd}, args...), Started: time.Now().UTC(),
		GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), SyncdArgs: syncdFlags,
		Params: map[string]any{"runs": *runs, "warmup": warmup.String(), "duration": duration.String(), "window": *window, "editBytes": *editBytes, "keys": *keys, "docs": *docs}}
	if *pin {
		if err := pinSelf(); err != nil {
			fmt.Fprintln(os.Stderr, "syncbench:", err)
		} else {
			rep.Pinned = true
		}
	}
	if strings.Contains(*servers, "syncd") && *syncdBin == "" {
		dir, err := os.MkdirTemp("", "syncbench-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if *syncdBin, err = buildSyncd(dir); err != nil {
			return err
		}
	}

	// Configurations, interleaved so that syncd and the relay of the same
	// N are measured next to each other.
	for _, n := range ns {
		for _, srvName := range strings.Split(*servers, ",") {
			storeList := []string{""}
			if srvName == "syncd" {
				storeList = strings.Split(*stores, ",")
			}
			for _, store := range storeList {
				res := &result{Workload: cmd, Server: srvName, Store: store, N: n}
				rep.Results = append(rep.Results, res)
				for i := 0; i < *runs && ctx.Err() == nil; i++ {
					fmt.Fprintf(os.Stderr, "%s %s %s n=%d run %d/%d\n", cmd, srvName, store, n, i+1, *runs)
					run, err := oneRun(ctx, cmd, srvName, store, *syncdBin, *pin, n, p)
					res.Runs = append(res.Runs, run)
					res.raw = append(res.raw, flatten(run))
					if err != nil {
						res.Error = err.Error()
						fmt.Fprintln(os.Stderr, "  error:", err)
						break
					}
				}
				res.Median = medians(res.raw)
			}
		}
	}
	printSummary(stdout, &rep)
	if *out != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// oneRun starts a fresh server (a fresh bolt file each time), runs the
// workload once, and stops the server.
func oneRun(ctx context.Context, cmd, srvName, store, syncdBin string, pin bool, n int, p params) (any, error) {
	srv, err := startServer(ctx, srvName, store, syncdBin, pin)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	t := target{addr: srv.addr, relay: srv.relay, doc: "bench:doc", addrs: srv.addrs()}
	if cmd == "writers" {
		t.docs = p.docs
	}
	switch cmd {
	case "fanout":
		return runFanout(ctx, t, srv, n, p)
	case "idle":
		return runIdle(ctx, srv, t, n, p)
	case "catchup":
		if srv.relay {
			return nil, errors.New("catchup: syncd only (a relay keeps no history)")
		}
		return runCatchup(ctx, t, n, p)
	}
	return runWriters(ctx, t, srv, n, p)
}

// flatten turns a run's numeric fields into a map, for medians.
func flatten(run any) map[string]float64 {
	b, _ := json.Marshal(run)
	var m map[string]any
	json.Unmarshal(b, &m)
	out := map[string]float64{}
	for k, v := range m {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out
}

func medians(runs []map[string]float64) map[string]any {
	out := map[string]any{}
	if len(runs) == 0 {
		return out
	}
	for k := range runs[0] {
		var xs []float64
		for _, r := range runs {
			xs = append(xs, r[k])
		}
		out[k] = median(xs)
	}
	return out
}

func printSummary(w io.Writer, rep *report) {
	keys, _ := rep.Params.(map[string]any)["keys"].(string)
	for _, r := range rep.Results {
		m := func(k string) float64 { f, _ := r.Median[k].(float64); return f }
		name := r.Server
		if r.Store != "" {
			name += "/" + r.Store
		}
		line := ""
		switch r.Workload {
		case "fanout":
			line = fmt.Sprintf("fanout  %-13s subs=%-5d deliveries/s=%-10.0f ops/s=%-8.0f p50=%.0fµs p99=%.0fµs max=%.0fµs cpu/1k=%.4fs rss=%.1fMiB lost=%.0f errors=%.0f",
				name, r.N, m("deliveriesPerSec"), m("opsPerSec"), m("p50us"), m("p99us"), m("maxUs"), m("serverCpuSecPer1kDeliveries"), m("serverRssBytes")/(1<<20), m("lost"), m("errors"))
			line += fmt.Sprintf(" ops/frame=%.1f", m("opsPerFrame"))
		case "writers":
			line = fmt.Sprintf("writers %-13s clients=%-4d commits/s=%-8.0f p50=%.0fµs p99=%.0fµs max=%.0fµs cpu=%.2fs rss=%.1fMiB unacked=%.0f errors=%.0f",
				name, r.N, m("commitsPerSec"), m("p50us"), m("p99us"), m("maxUs"), m("serverCpuSec"), m("serverRssBytes")/(1<<20), m("sent")-m("acked"), m("errors"))
			line += fmt.Sprintf(" | sync probe p50/p99: before=%.0f/%.0fµs after=%.0f/%.0fµs",
				m("probeBeforeP50us"), m("probeBeforeP99us"), m("probeAfterP50us"), m("probeAfterP99us"))
			if codes := refusalCodes(r); len(codes) > 0 {
				line += " | refused (all runs): " + formatCodes(codes)
			}
		case "idle":
			line = fmt.Sprintf("idle    %-13s conns=%-6d server KiB/conn=%.2f rss=%.1fMiB→%.1fMiB connect=%.1fs",
				name, r.N, m("serverKiBPerConn"), m("serverRssBeforeBytes")/(1<<20), m("serverRssAfterBytes")/(1<<20), m("connectSec"))
			if m("goroutinesPerConn") > 0 {
				line += fmt.Sprintf(" | per conn: goroutines=%.2f heap=%.2fKiB stacks=%.2fKiB", m("goroutinesPerConn"), m("heapInuseKiBPerConn"), m("stackInuseKiBPerConn"))
			}
		case "catchup":
			line = fmt.Sprintf("catchup %-13s keys=%s behind=%-6d mode=%s time=%.2fms bytes=%.0f msgs=%.0f ops=%.0f combined=%.0f | snapshot: time=%.2fms bytes=%.0f (doc %.0f B)",
				name, keys, r.N, catchupMode(r), m("ms"), m("bytes"), m("messages"), m("ops"), m("combinedOps"), m("snapshotMs"), m("snapshotBytes"), m("docBytes"))
		}
		if r.Workload == "fanout" || r.Workload == "writers" {
			line += fmt.Sprintf(" gen-cpu=%.2fs", m("generatorCpuSec"))
		}
		if v := m("relayMsgsPerWrite"); v > 0 {
			line += fmt.Sprintf(" msgs/write=%.1f", v)
		}
		if r.Error != "" {
			line += " ERROR: " + r.Error
		}
		fmt.Fprintf(w, "%s (median of %d)\n", line, len(r.Runs))
	}
}

// catchupMode is the catch-up mode of the first run (the same in every run
// unless something is wrong, which the JSON shows).
func catchupMode(r *result) string {
	if len(r.Runs) > 0 {
		if c, ok := r.Runs[0].(catchupRun); ok {
			return c.Mode
		}
	}
	return "?"
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 100000 {
			return nil, fmt.Errorf("bad count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// runRelay serves the relay until ctx ends (SIGTERM from the benchmark).
func runRelay(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "relay listening on %s\n", ln.Addr())
	srv := &http.Server{Handler: newRelay().handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
