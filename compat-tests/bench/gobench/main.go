// gobench: franz-go load and startup probes for compat-tests/bench (run.sh, scaling.sh).
//
//	gobench consume -brokers A -topic T -records N [-clients C]
//	gobench produce -brokers A -topic T -records N -size S [-clients C] [-acks all|1|0]
//	gobench startup -cmd "<shell command starting a broker>" -addr host:port [-timeout 120s]
//
// consume and produce print one line of key=value pairs on stdout (records, bytes, seconds,
// records_per_sec, mb_per_sec; produce also p50_ms, p99_ms, p999_ms, max_ms); startup prints
// startup_ms. Progress and errors go to stderr; the exit status is 1 if a run could not finish.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "consume":
		err = consume(os.Args[2:])
	case "produce":
		err = produce(os.Args[2:])
	case "startup":
		err = startup(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gobench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: gobench consume|produce|startup -h")
	os.Exit(2)
}

// partitionCount asks the broker for the topic's metadata (retrying while the topic is new).
func partitionCount(ctx context.Context, cl *kgo.Client, topic string) (int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := req.RequestWith(ctx, cl)
		if err == nil && len(resp.Topics) == 1 {
			rt := resp.Topics[0]
			if rt.ErrorCode == 0 && len(rt.Partitions) > 0 {
				return int32(len(rt.Partitions)), nil
			}
			err = fmt.Errorf("metadata of %s: error code %d, %d partitions", topic, rt.ErrorCode, len(rt.Partitions))
		}
		if time.Now().After(deadline) {
			return 0, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func report(records, bytes int64, elapsed time.Duration, extra string) {
	s := elapsed.Seconds()
	fmt.Printf("records=%d bytes=%d seconds=%.3f records_per_sec=%.1f mb_per_sec=%.2f%s\n",
		records, bytes, s, float64(records)/s, float64(bytes)/s/(1024*1024), extra)
}

// consume: C clients consume the topic's partitions from the start (ConsumePartitions, no
// group), partition p going to client p % C, until N records in total were read.
func consume(args []string) error {
	fs := flag.NewFlagSet("consume", flag.ExitOnError)
	brokers := fs.String("brokers", "127.0.0.1:9092", "bootstrap host:port[,host:port]")
	topic := fs.String("topic", "", "topic")
	records := fs.Int64("records", 0, "stop after this many records in total")
	clients := fs.Int("clients", 1, "number of consumer clients")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after")
	fs.Parse(args)
	if *topic == "" || *records <= 0 || *clients <= 0 {
		return errors.New("consume needs -topic, -records > 0, -clients > 0")
	}
	seeds := strings.Split(*brokers, ",")
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	start := time.Now()
	meta, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return err
	}
	parts, err := partitionCount(ctx, meta, *topic)
	meta.Close()
	if err != nil {
		return err
	}
	assign := make([]map[int32]kgo.Offset, *clients)
	for p := int32(0); p < parts; p++ {
		c := int(p) % *clients
		if assign[c] == nil {
			assign[c] = map[int32]kgo.Offset{}
		}
		assign[c][p] = kgo.NewOffset().AtStart()
	}
	if *clients > int(parts) {
		fmt.Fprintf(os.Stderr, "gobench: %d clients for %d partitions: %d clients idle\n", *clients, parts, *clients-int(parts))
	}

	var nrec, nbytes atomic.Int64
	// Reaching N ends every client's PollFetches (some may wait on partitions read to the end).
	pollCtx, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	var wg sync.WaitGroup
	for c := range *clients {
		if assign[c] == nil {
			continue
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{*topic: assign[c]}))
		if err != nil {
			return err
		}
		defer cl.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pollCtx.Err() == nil {
				fetches := cl.PollFetches(pollCtx)
				fetches.EachError(func(t string, p int32, err error) {
					if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
						fmt.Fprintf(os.Stderr, "gobench: fetch %s/%d: %v\n", t, p, err)
					}
				})
				var n, b int64
				fetches.EachRecord(func(r *kgo.Record) {
					n++
					b += int64(len(r.Key) + len(r.Value))
				})
				nbytes.Add(b)
				if nrec.Add(n) >= *records {
					stopPolling()
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if nrec.Load() < *records {
		return fmt.Errorf("timed out after %s with %d of %d records", *timeout, nrec.Load(), *records)
	}
	report(nrec.Load(), nbytes.Load(), elapsed, fmt.Sprintf(" clients=%d partitions=%d", *clients, parts))
	return nil
}

// produce: C clients send N records of S bytes in total, record i of a client to partition
// i % P; per record the time from Produce to its promise is a latency sample.
func produce(args []string) error {
	fs := flag.NewFlagSet("produce", flag.ExitOnError)
	brokers := fs.String("brokers", "127.0.0.1:9092", "bootstrap host:port[,host:port]")
	topic := fs.String("topic", "", "topic")
	records := fs.Int64("records", 0, "records in total")
	size := fs.Int("size", 1024, "value size in bytes")
	clients := fs.Int("clients", 1, "number of producer clients")
	acks := fs.String("acks", "all", "all, 1 or 0 (1 and 0 are not idempotent)")
	rate := fs.Float64("rate", 0, "records/s in total, paced evenly (0: as fast as possible)")
	warmup := fs.Int64("warmup", 0, "leave the first N records out of the latency percentiles")
	linger := fs.Duration("linger", -1, "ProducerLinger (negative: franz-go's default, 10ms in v1.22)")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after")
	fs.Parse(args)
	if *topic == "" || *records <= 0 || *clients <= 0 || *size < 0 || *warmup < 0 || *warmup >= *records {
		return errors.New("produce needs -topic, -records > 0, -clients > 0, 0 <= -warmup < -records")
	}
	seeds := strings.Split(*brokers, ",")
	opts := []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(*topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		// Uncompressed like ProducerPerformance's (franz-go would snappy-compress by default).
		kgo.ProducerBatchCompression(kgo.NoCompression())}
	if *linger >= 0 {
		opts = append(opts, kgo.ProducerLinger(*linger))
	}
	switch *acks {
	case "all", "-1":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		return fmt.Errorf("-acks %q: want all, 1 or 0", *acks)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	// A value of random letters (as ProducerPerformance's), shared by every record.
	value := make([]byte, *size)
	for i := range value {
		value[i] = byte('A' + rand.Intn(26))
	}
	lat := make([]time.Duration, *records) // one slot per record, filled by its promise
	var failed atomic.Int64
	var firstErr atomic.Value

	start := time.Now()
	meta, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return err
	}
	parts, err := partitionCount(ctx, meta, *topic)
	meta.Close()
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for c := range *clients {
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return err
		}
		defer cl.Close()
		// Client c sends records c, c+C, c+2C, ...
		wg.Add(1)
		go func() {
			defer wg.Done()
			var i int64
			for idx := int64(c); idx < *records; idx += int64(*clients) {
				if *rate > 0 {
					// Record idx is due idx/rate seconds after the start (open loop: a late
					// record is sent at once, and its latency counts from its send).
					if wait := time.Until(start.Add(time.Duration(float64(idx) / *rate * float64(time.Second)))); wait > 0 {
						time.Sleep(wait)
					}
				}
				slot := idx
				r := &kgo.Record{Value: value, Partition: int32(i % int64(parts))}
				i++
				t0 := time.Now()
				cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
					lat[slot] = time.Since(t0)
					if err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err)
					}
				})
			}
			if err := cl.Flush(ctx); err != nil {
				firstErr.CompareAndSwap(nil, err)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d of %d records failed, first: %v", n, *records, firstErr.Load())
	}
	if err, ok := firstErr.Load().(error); ok {
		return err
	}
	lat = lat[*warmup:] // records are numbered in send order across clients
	slices.Sort(lat)
	pct := func(q float64) float64 {
		i := int(q * float64(len(lat)))
		if i >= len(lat) {
			i = len(lat) - 1
		}
		return float64(lat[i].Microseconds()) / 1000
	}
	report(*records, *records*int64(*size), elapsed, fmt.Sprintf(
		" p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f clients=%d partitions=%d latency_records=%d",
		pct(0.50), pct(0.99), pct(0.999), float64(lat[len(lat)-1].Microseconds())/1000, *clients, parts, len(lat)))
	return nil
}

// startup: start the command (in its own process group), then connect to addr in a tight loop
// and send ApiVersions until a response comes back; print the time from exec to that response;
// stop the process group (SIGTERM, SIGKILL after 60 s) and wait for it.
func startup(args []string) error {
	fs := flag.NewFlagSet("startup", flag.ExitOnError)
	command := fs.String("cmd", "", "shell command that starts a broker in the foreground")
	addr := fs.String("addr", "", "host:port the broker listens on")
	timeout := fs.Duration("timeout", 120*time.Second, "give up after")
	logFile := fs.String("log", "", "file for the command's output (default: discarded)")
	fs.Parse(args)
	if *command == "" || *addr == "" {
		return errors.New("startup needs -cmd and -addr")
	}
	if c, err := net.DialTimeout("tcp", *addr, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("%s already accepts connections", *addr)
	}
	cmd := exec.Command("/bin/sh", "-c", *command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			return err
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}

	var served time.Duration
	for {
		if time.Since(start) > *timeout {
			stop()
			return fmt.Errorf("no ApiVersions response from %s within %s", *addr, *timeout)
		}
		select {
		case err := <-exited:
			return fmt.Errorf("the command exited before serving ApiVersions: %v", err)
		default:
		}
		if apiVersions(*addr) == nil {
			served = time.Since(start)
			break
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Printf("startup_ms=%.1f\n", float64(served.Microseconds())/1000)
	stop()
	return nil
}

// apiVersions sends one ApiVersions v0 request on a new connection and parses the response.
func apiVersions(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 0
	// Request header v1: api key, version, correlation id, client id; then the body.
	clientID := "gobench"
	msg := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
	msg = binary.BigEndian.AppendUint16(msg, uint16(req.Version))
	msg = binary.BigEndian.AppendUint32(msg, 1)
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(clientID)))
	msg = append(msg, clientID...)
	msg = req.AppendTo(msg)
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(msg)))
	if _, err := conn.Write(append(frame, msg...)); err != nil {
		return err
	}
	rd := bufio.NewReader(conn)
	var head [8]byte // size, correlation id (response header v0)
	if _, err := io.ReadFull(rd, head[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(head[:4])
	if size < 4 || size > 1<<20 {
		return fmt.Errorf("bad response size %d", size)
	}
	body := make([]byte, size-4)
	if _, err := io.ReadFull(rd, body); err != nil {
		return err
	}
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.Version = 0
	return resp.ReadFrom(body)
}
