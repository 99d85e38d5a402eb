// saramacompat: a fixed sequence of Sarama client calls against one broker, printed
// deterministically so that the transcripts of the reference Kafka and of Sluice can be diffed
// (compat-tests/sarama/run.sh, scenario `compat`).
//
//	saramacompat -bootstrap HOST:PORT -prefix PREFIX
//
// Steps: admin CreateTopic (3 partitions) and DescribeTopics; a SyncProducer per codec (none,
// gzip, snappy, lz4, zstd) sending 12 keyed records each (SendMessage and SendMessages) to fixed
// partitions; a ConsumerGroup per balance strategy (range, sticky) consuming everything from the
// oldest offset and committing; the committed offsets through ListConsumerGroupOffsets; an
// OffsetManager commit with metadata; DescribeConfig, ListConsumerGroups,
// DescribeConsumerGroups, DeleteConsumerGroup, DeleteTopic. Waiting is bounded polling.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

var (
	bootstrap = flag.String("bootstrap", "127.0.0.1:9092", "broker host:port")
	prefix    = flag.String("prefix", "sarama-", "prefix of topic and group names")
)

const partitions = 3

var codecs = []sarama.CompressionCodec{
	sarama.CompressionNone, sarama.CompressionGZIP, sarama.CompressionSnappy,
	sarama.CompressionLZ4, sarama.CompressionZSTD,
}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Println("ERROR:", err)
		os.Exit(1)
	}
}

func newConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.MaxVersion
	c.ApiVersionsRequest = true // never above what the broker advertises
	c.ClientID = "saramacompat"
	c.Metadata.Retry.Max = 10
	c.Metadata.Retry.Backoff = 200 * time.Millisecond
	return c
}

func rel(name string) string { return strings.TrimPrefix(name, *prefix) }

func kerr(err error) string {
	if err == nil {
		return "ok"
	}
	var ke sarama.KError
	if errors.As(err, &ke) {
		if ke == sarama.ErrNoError {
			return "ok"
		}
		return fmt.Sprintf("KError(%d) %s", int16(ke), ke.Error())
	}
	var te *sarama.TopicError
	if errors.As(err, &te) && te.Err != sarama.ErrNoError {
		return fmt.Sprintf("KError(%d) %s", int16(te.Err), te.Err.Error())
	}
	return "error: " + err.Error()
}

func run() error {
	topic := *prefix + "t"
	admin, err := sarama.NewClusterAdmin([]string{*bootstrap}, newConfig())
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	defer admin.Close()

	// --- admin: create and describe -------------------------------------------------------
	retention := "3600000"
	err = admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"retention.ms": &retention}}, false)
	fmt.Printf("create %s: %s\n", rel(topic), kerr(err))
	err = admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false)
	fmt.Printf("create %s again: %s\n", rel(topic), kerr(err))
	err = admin.CreateTopic(*prefix+"rf3", &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 3}, false)
	fmt.Printf("create rf3 (replication factor 3): %s\n", kerr(err))
	if err := waitPartitions(admin, topic, partitions); err != nil {
		return err
	}
	md, err := admin.DescribeTopics([]string{topic, *prefix + "missing"})
	if err != nil {
		return fmt.Errorf("describe topics: %w", err)
	}
	sort.Slice(md, func(i, j int) bool { return md[i].Name < md[j].Name })
	for _, t := range md {
		fmt.Printf("describe %s: %s partitions=%d internal=%v\n", rel(t.Name), kerr(t.Err), len(t.Partitions), t.IsInternal)
		sort.Slice(t.Partitions, func(i, j int) bool { return t.Partitions[i].ID < t.Partitions[j].ID })
		for _, p := range t.Partitions {
			fmt.Printf("  partition %d: %s leader=%d replicas=%v isr=%v offline=%v\n", p.ID, kerr(p.Err), p.Leader, p.Replicas, p.Isr, p.OfflineReplicas)
		}
	}
	cfg, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic,
		ConfigNames: []string{"retention.ms", "cleanup.policy", "max.message.bytes"}})
	if err != nil {
		return fmt.Errorf("describe config: %w", err)
	}
	sort.Slice(cfg, func(i, j int) bool { return cfg[i].Name < cfg[j].Name })
	for _, e := range cfg {
		fmt.Printf("config %s=%s default=%v source=%s sensitive=%v\n", e.Name, e.Value, e.Default, e.Source, e.Sensitive)
	}

	// --- sync producers, one per codec --------------------------------------------------------
	var total int
	for _, codec := range codecs {
		n, err := produce(topic, codec)
		if err != nil {
			return err
		}
		total += n
	}

	// --- consumer groups ------------------------------------------------------------------------
	for _, strat := range []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange(), sarama.NewBalanceStrategySticky()} {
		if err := consumeGroup(admin, topic, strat, total); err != nil {
			return err
		}
	}

	// --- offset manager: an explicit commit with metadata ---------------------------------------
	group := *prefix + "g-manual"
	if err := offsetManager(admin, topic, group); err != nil {
		return err
	}

	// --- groups: list, describe, delete ----------------------------------------------------------
	groups, err := admin.ListConsumerGroups()
	if err != nil {
		return fmt.Errorf("list groups: %w", err)
	}
	var ours []string
	for g, ptype := range groups {
		if strings.HasPrefix(g, *prefix) {
			ours = append(ours, fmt.Sprintf("%s(%s)", rel(g), ptype))
		}
	}
	sort.Strings(ours)
	fmt.Printf("list groups: %v\n", ours)
	desc, err := admin.DescribeConsumerGroups([]string{*prefix + "g-range", *prefix + "g-sticky", group, *prefix + "g-none"})
	if err != nil {
		return fmt.Errorf("describe groups: %w", err)
	}
	for _, d := range desc {
		fmt.Printf("describe group %s: %s state=%s protocolType=%q protocol=%q members=%d\n",
			rel(d.GroupId), kerr(d.Err), d.State, d.ProtocolType, d.Protocol, len(d.Members))
	}
	for _, g := range []string{*prefix + "g-range", *prefix + "g-none"} {
		fmt.Printf("delete group %s: %s\n", rel(g), kerr(admin.DeleteConsumerGroup(g)))
	}
	fmt.Printf("delete topic %s: %s\n", rel(topic), kerr(admin.DeleteTopic(topic)))
	fmt.Printf("delete topic missing: %s\n", kerr(admin.DeleteTopic(*prefix+"missing")))
	return nil
}

// waitPartitions polls DescribeTopics until TOPIC has N partitions with a leader (bounded).
func waitPartitions(admin sarama.ClusterAdmin, topic string, n int) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		md, err := admin.DescribeTopics([]string{topic})
		if err == nil && len(md) == 1 && md[0].Err == sarama.ErrNoError && len(md[0].Partitions) == n {
			ok := true
			for _, p := range md[0].Partitions {
				ok = ok && p.Leader >= 0
			}
			if ok {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("topic %s: no %d partitions with leaders within 60s", rel(topic), n)
}

// produce sends 12 records with codec: 6 with SendMessage, 6 with one SendMessages, to fixed
// partitions (manual partitioner), and prints the partition/offset of each.
func produce(topic string, codec sarama.CompressionCodec) (int, error) {
	c := newConfig()
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Compression = codec
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Producer.Idempotent = codec == sarama.CompressionZSTD // one idempotent producer
	if c.Producer.Idempotent {
		c.Net.MaxOpenRequests = 1
	}
	p, err := sarama.NewSyncProducer([]string{*bootstrap}, c)
	if err != nil {
		return 0, fmt.Errorf("producer %s: %w", codec, err)
	}
	defer p.Close()
	msg := func(i int) *sarama.ProducerMessage {
		return &sarama.ProducerMessage{Topic: topic, Partition: int32(i % partitions),
			Key:     sarama.StringEncoder(fmt.Sprintf("%s-k%02d", codec, i)),
			Value:   sarama.StringEncoder(strings.Repeat(fmt.Sprintf("%s-value-%02d;", codec, i), 20)),
			Headers: []sarama.RecordHeader{{Key: []byte("h"), Value: []byte(codec.String())}}}
	}
	var out []string
	for i := 0; i < 6; i++ {
		part, off, err := p.SendMessage(msg(i))
		if err != nil {
			return 0, fmt.Errorf("send %s %d: %w", codec, i, err)
		}
		out = append(out, fmt.Sprintf("%d@%d", part, off))
	}
	batch := make([]*sarama.ProducerMessage, 0, 6)
	for i := 6; i < 12; i++ {
		batch = append(batch, msg(i))
	}
	if err := p.SendMessages(batch); err != nil {
		return 0, fmt.Errorf("send batch %s: %w", codec, err)
	}
	for _, m := range batch {
		out = append(out, fmt.Sprintf("%d@%d", m.Partition, m.Offset))
	}
	fmt.Printf("produce %s (idempotent=%v): %s\n", codec, c.Producer.Idempotent, strings.Join(out, " "))
	return 12, nil
}

type handler struct {
	want     int
	mu       sync.Mutex
	seen     map[int32][]string
	claims   [][]int32
	count    int
	done     chan struct{}
	doneOnce sync.Once
}

func (h *handler) Setup(s sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ps := range s.Claims() {
		c := append([]int32(nil), ps...)
		sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
		h.claims = append(h.claims, c)
	}
	return nil
}
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		h.mu.Lock()
		hdr := ""
		for _, x := range m.Headers {
			hdr += string(x.Key) + "=" + string(x.Value)
		}
		h.seen[m.Partition] = append(h.seen[m.Partition], fmt.Sprintf("%d:%s:%08x:%s", m.Offset, m.Key, crc32.ChecksumIEEE(m.Value), hdr))
		h.count++
		n := h.count
		h.mu.Unlock()
		s.MarkMessage(m, "")
		if n >= h.want {
			s.Commit()
			h.doneOnce.Do(func() { close(h.done) })
		}
	}
	return nil
}

// consumeGroup consumes everything (want records) with one member of a new group using strat,
// commits, prints what it saw, then the group's committed offsets.
func consumeGroup(admin sarama.ClusterAdmin, topic string, strat sarama.BalanceStrategy, want int) error {
	group := *prefix + "g-" + strat.Name()
	c := newConfig()
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Enable = false
	c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{strat}
	cg, err := sarama.NewConsumerGroup([]string{*bootstrap}, group, c)
	if err != nil {
		return fmt.Errorf("consumer group %s: %w", rel(group), err)
	}
	h := &handler{want: want, seen: map[int32][]string{}, done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, h); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	select {
	case <-h.done:
	case <-ctx.Done():
	}
	cancel()
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		fmt.Printf("group %s: consume: %s\n", rel(group), kerr(err))
	}
	if err := cg.Close(); err != nil {
		fmt.Printf("group %s: close: %s\n", rel(group), kerr(err))
	}
	h.mu.Lock()
	fmt.Printf("group %s (%s): consumed %d of %d, first claims %v\n", rel(group), strat.Name(), h.count, want, firstClaims(h.claims))
	for p := int32(0); p < partitions; p++ {
		recs := h.seen[p]
		fmt.Printf("  partition %d: %d records, first %s, last %s\n", p, len(recs), at(recs, 0), at(recs, len(recs)-1))
	}
	h.mu.Unlock()
	return printCommitted(admin, group, topic)
}

func firstClaims(c [][]int32) string {
	if len(c) == 0 {
		return "none"
	}
	return fmt.Sprint(c[0])
}

func at(s []string, i int) string {
	if i < 0 || i >= len(s) {
		return "-"
	}
	return s[i]
}

func printCommitted(admin sarama.ClusterAdmin, group, topic string) error {
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0, 1, 2}})
	if err != nil {
		return fmt.Errorf("offset fetch %s: %w", rel(group), err)
	}
	var parts []string
	for p := int32(0); p < partitions; p++ {
		b := resp.GetBlock(topic, p)
		if b == nil {
			parts = append(parts, fmt.Sprintf("%d:none", p))
			continue
		}
		parts = append(parts, fmt.Sprintf("%d:%d(%q,%s)", p, b.Offset, b.Metadata, kerr(b.Err)))
	}
	fmt.Printf("  committed %s: %s (%s)\n", rel(group), strings.Join(parts, " "), kerr(resp.Err))
	return nil
}

// offsetManager commits offset 5 with metadata on partition 1 through sarama's OffsetManager.
func offsetManager(admin sarama.ClusterAdmin, topic, group string) error {
	client, err := sarama.NewClient([]string{*bootstrap}, newConfig())
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	defer client.Close()
	om, err := sarama.NewOffsetManagerFromClient(group, client)
	if err != nil {
		return fmt.Errorf("offset manager: %w", err)
	}
	pom, err := om.ManagePartition(topic, 1)
	if err != nil {
		return fmt.Errorf("manage partition: %w", err)
	}
	off, meta := pom.NextOffset()
	fmt.Printf("offset manager %s: next offset before commit %d %q\n", rel(group), off, meta)
	pom.MarkOffset(5, "compat-meta")
	om.Commit()
	if err := pom.Close(); err != nil {
		fmt.Printf("offset manager close partition: %s\n", kerr(err))
	}
	if err := om.Close(); err != nil {
		fmt.Printf("offset manager close: %s\n", kerr(err))
	}
	return printCommitted(admin, group, topic)
}
