// Writer and reader of the datadir/ scenarios (Kafka 4.3.1 clients and tools, one JVM per call).
//
//   java -cp 'java/work/lib/*:datadir/work/classes' DataDir <mode> <bootstrap> <state dir>
//
// Modes:
//   write       BOOT STATE   fills a fresh broker with every kind of content the scenario reads
//               back (see README.md): topics with configs and several partitions, records with
//               keys/headers/five codecs in several segments, a compacted topic with updates and
//               tombstones, a DeleteRecords'd partition, committed offsets of classic and
//               KIP-848 groups (one with a regular expression, one static member that stays),
//               committed and aborted transactions with a TxnOffsetCommit, and an idempotent
//               producer stopped mid-stream whose producer id, epoch and next sequence are kept
//               in STATE/idem.state (raw Produce requests, so that a later run can go on with the
//               same producer). STATE/t0 holds the base timestamp of the records.
//   transcript  BOOT STATE   what a broker started on that directory serves, as a transcript
//               that must be identical on every broker that reads the same directory: Kafka's
//               tools (kafka-topics, kafka-get-offsets, kafka-consumer-groups, kafka-transactions,
//               run in this JVM), every record of every topic, read_committed and
//               read_uncommitted reads, the idempotent producer continuing, each group resuming
//               at its committed offsets, the transactional producer continuing, new records.
//               Progress lines ("DataDir <seconds> <step>") go to stderr.
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.SubscriptionPattern;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.message.InitProducerIdRequestData;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.message.ProduceResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.InitProducerIdRequest;
import org.apache.kafka.common.requests.InitProducerIdResponse;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.ProduceResponse;
import org.apache.kafka.common.requests.RequestHeader;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Exit;

public final class DataDir {
  static final PrintStream OUT =
      new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
  static final PrintStream ERR =
      new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);

  static final String PLAIN = "dd-plain";
  static final String COMPACT = "dd-compact";
  static final String TXN = "dd-txn";
  static final String IDEM = "dd-idem";
  static final String DELETED = "dd-deleted";
  static final List<String> TOPICS = List.of(COMPACT, DELETED, IDEM, PLAIN, TXN);
  static final String[] CODECS = {"none", "gzip", "snappy", "lz4", "zstd"};
  /** Records of dd-plain per codec round. */
  static final int PLAIN_PER_CODEC = 60;
  static final int IDEM_BATCH = 10;
  static final long STEP_MS = 120_000; // > segment.ms: each round starts a segment

  static String boot;
  static Path state;

  static void p(String s) {
    OUT.println(s);
  }

  static final long START = System.nanoTime();

  /** Progress on stderr, with the seconds since the start (to see where the time goes). */
  static void progress(String what) {
    ERR.printf("DataDir %.1fs %s%n", (System.nanoTime() - START) / 1e9, what);
  }

  public static void main(String[] a) throws Exception {
    if (a.length < 3) {
      ERR.println("usage: DataDir write|transcript BOOT STATE");
      System.exit(2);
    }
    boot = a[1];
    state = Path.of(a[2]);
    switch (a[0]) {
      case "write" -> write();
      case "transcript" -> transcript();
      default -> {
        ERR.println("unknown mode " + a[0]);
        System.exit(2);
      }
    }
    System.exit(0);
  }

  // ------------------------------------------------------------------------------------------
  // Clients

  static Admin admin() {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
    return Admin.create(p);
  }

  static KafkaProducer<String, String> producer(String... kv) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "20");
    for (int i = 0; i + 1 < kv.length; i += 2) p.put(kv[i], kv[i + 1]);
    return new KafkaProducer<>(p);
  }

  static KafkaConsumer<String, String> consumer(String group, String... kv) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "100"); // the reads stop at known end offsets
    if (group != null) p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    for (int i = 0; i + 1 < kv.length; i += 2) p.put(kv[i], kv[i + 1]);
    return new KafkaConsumer<>(p);
  }

  static void waitTopics(Collection<String> topics, int seconds) throws Exception {
    try (Admin adm = admin()) {
      long end = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
      while (true) {
        try {
          Map<String, TopicDescription> d = adm.describeTopics(topics).allTopicNames().get();
          if (d.values().stream().allMatch(t -> t.partitions().stream().allMatch(x -> x.leader() != null))) {
            return;
          }
        } catch (java.util.concurrent.ExecutionException e) {
          // not visible yet
        }
        if (System.nanoTime() > end) throw new IllegalStateException("topics not ready: " + topics);
        Thread.sleep(100); // poll interval while the topics' metadata propagates
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // write

  static void write() throws Exception {
    Files.createDirectories(state);
    long t0 = (System.currentTimeMillis() - 3_600_000) / 1000 * 1000;
    Files.writeString(state.resolve("t0"), Long.toString(t0));
    try (Admin adm = admin()) {
      adm.createTopics(List.of(
          topic(PLAIN, 3, "retention.ms", "604800000", "max.message.bytes", "2000000",
              "segment.ms", "60000", "message.timestamp.type", "CreateTime"),
          topic(COMPACT, 2, "cleanup.policy", "compact", "segment.ms", "60000",
              "min.cleanable.dirty.ratio", "0.01", "min.compaction.lag.ms", "0",
              "delete.retention.ms", "86400000"),
          topic(TXN, 2),
          topic(IDEM, 1, "retention.bytes", "100000000"),
          topic(DELETED, 2, "compression.type", "zstd"))).all().get();
    }
    waitTopics(TOPICS, 60);
    p("created topics " + TOPICS);

    // dd-plain: one round per codec, each round CreateTime STEP_MS later (a segment each).
    for (int r = 0; r < CODECS.length; r++) {
      try (KafkaProducer<String, String> prod = producer(ProducerConfig.COMPRESSION_TYPE_CONFIG, CODECS[r])) {
        for (int i = 0; i < PLAIN_PER_CODEC; i++) {
          String key = i % 10 == 9 ? null : "k-" + CODECS[r] + "-" + i;
          String value = "v-" + CODECS[r] + "-" + i + "-" + "x".repeat(i % 13);
          List<Header> headers = new ArrayList<>();
          headers.add(new RecordHeader("i", Integer.toString(i).getBytes(StandardCharsets.UTF_8)));
          if (i % 5 == 0) {
            headers.add(new RecordHeader("dup", "one".getBytes(StandardCharsets.UTF_8)));
            headers.add(new RecordHeader("dup", "two".getBytes(StandardCharsets.UTF_8)));
            headers.add(new RecordHeader("null", null));
          }
          prod.send(new ProducerRecord<>(PLAIN, i % 3, t0 + r * STEP_MS + i, key, value, headers));
        }
        prod.flush();
      }
    }
    p("dd-plain: " + CODECS.length + " rounds of " + PLAIN_PER_CODEC + " records (codecs "
        + String.join(",", CODECS) + ")");

    // dd-compact: updates and tombstones over three segments.
    try (KafkaProducer<String, String> prod = producer()) {
      for (int i = 0; i < 20; i++) prod.send(new ProducerRecord<>(COMPACT, i % 2, t0 + i, "k" + i, "a" + i));
      prod.flush();
      for (int i = 0; i < 15; i++) {
        prod.send(new ProducerRecord<>(COMPACT, i % 2, t0 + STEP_MS + i, "k" + i, i < 10 ? "b" + i : null));
      }
      prod.flush();
      for (int i = 0; i < 5; i++) prod.send(new ProducerRecord<>(COMPACT, i % 2, t0 + 2 * STEP_MS + i, "k" + i, "c" + i));
      prod.send(new ProducerRecord<>(COMPACT, 1, t0 + 2 * STEP_MS + 5, "k15", (String) null));
      prod.flush();
    }
    p("dd-compact: 20 keys, 10 updated, 5 deleted, 5 updated again, 1 more deleted");

    // dd-deleted: 20 records per partition (the topic stores zstd), then DeleteRecords.
    try (KafkaProducer<String, String> prod = producer(ProducerConfig.COMPRESSION_TYPE_CONFIG, "gzip")) {
      for (int i = 0; i < 40; i++) prod.send(new ProducerRecord<>(DELETED, i % 2, t0 + i, "d" + i, "del-" + i));
      prod.flush();
    }
    try (Admin adm = admin()) {
      adm.deleteRecords(Map.of(new TopicPartition(DELETED, 0), RecordsToDelete.beforeOffset(7))).all().get();
    }
    p("dd-deleted: 20 records per partition, partition 0 deleted before offset 7");

    // Transactions.
    transactions("dd-txn-id", new String[] {"a", "b", "c"}, true, t0);
    transactions("dd-txn-abort", new String[] {"x", "y"}, false, t0);
    waitStable(TXN);

    // The idempotent producer, stopped mid-stream (raw requests: its id, epoch and sequence are
    // kept for the transcript).
    try (Raw raw = new Raw(boot)) {
      InitProducerIdResponse r = (InitProducerIdResponse) raw.send(new InitProducerIdRequest.Builder(
          new InitProducerIdRequestData().setTransactionalId(null).setTransactionTimeoutMs(60000)), (short) 4);
      if (r.error() != Errors.NONE) throw new IllegalStateException("InitProducerId: " + r.error());
      long pid = r.data().producerId();
      short epoch = r.data().producerEpoch();
      int seq = 0;
      for (int b = 0; b < 5; b++) {
        ProduceResult res = raw.produce(IDEM, 0, pid, epoch, seq, t0 + seq);
        if (res.error != Errors.NONE || res.baseOffset != seq) {
          throw new IllegalStateException("idempotent batch " + b + ": " + res);
        }
        seq += IDEM_BATCH;
      }
      Files.writeString(state.resolve("idem.state"), pid + " " + epoch + " " + seq + "\n");
      p("dd-idem: idempotent producer wrote 5 batches of " + IDEM_BATCH + " (sequences 0-" + (seq - 1) + ")");
    }

    // Groups: committed offsets (classic, KIP-848, a regular expression, a static member).
    commitGroup("dd-classic", List.of(PLAIN), null,
        Map.of(tp(PLAIN, 0), 50L, tp(PLAIN, 1), 60L, tp(PLAIN, 2), 70L), "classic");
    commitGroup("dd-848", List.of(PLAIN, DELETED), null,
        Map.of(tp(PLAIN, 0), 40L, tp(PLAIN, 1), 41L, tp(PLAIN, 2), 42L, tp(DELETED, 0), 10L, tp(DELETED, 1), 5L),
        "consumer");
    commitGroup("dd-regex", null, "dd-(plain|compact)",
        Map.of(tp(COMPACT, 0), 3L, tp(PLAIN, 1), 7L), "consumer");
    commitGroup("dd-static", List.of(IDEM), null, Map.of(tp(IDEM, 0), 20L), "static");
    p("groups: dd-classic, dd-848, dd-regex, dd-static committed");
  }

  static NewTopic topic(String name, int partitions, String... kv) {
    Map<String, String> cfg = new LinkedHashMap<>();
    for (int i = 0; i + 1 < kv.length; i += 2) cfg.put(kv[i], kv[i + 1]);
    return new NewTopic(name, partitions, (short) 1).configs(cfg);
  }

  static TopicPartition tp(String t, int p) {
    return new TopicPartition(t, p);
  }

  /** Transactions of one id: one per prefix, committed except the second (and, with
   * lastCommitted=false, the last); the last committed one also commits offsets of group
   * ID-g. */
  static void transactions(String id, String[] prefixes, boolean offsets, long t0) {
    try (KafkaProducer<String, String> prod = producer(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id)) {
      prod.initTransactions();
      for (int n = 0; n < prefixes.length; n++) {
        prod.beginTransaction();
        for (int i = 0; i < 6; i++) {
          String v = prefixes[n] + i;
          prod.send(new ProducerRecord<>(TXN, i % 2, t0 + i, v, v));
        }
        boolean commit = n != 1;
        if (commit && offsets && n == prefixes.length - 1) {
          prod.sendOffsetsToTransaction(Map.of(tp(TXN, 0), new OffsetAndMetadata(7, "from-txn")),
              new ConsumerGroupMetadata(id + "-g"));
        }
        if (commit) {
          prod.commitTransaction();
        } else {
          prod.flush();
          prod.abortTransaction();
        }
        p(id + ": transaction " + prefixes[n] + " " + (commit ? "committed" : "aborted"));
      }
    }
  }

  /** A member of GROUP subscribes, reads until it has a record of each partition of OFFSETS
   * (to learn their leader epochs) and commits OFFSETS with metadata and those epochs. kind: classic, consumer (KIP-848) or static (a classic static member, which
   * stays in the group after close). */
  static void commitGroup(String group, List<String> topics, String regex, Map<TopicPartition, Long> offsets,
      String kind) throws Exception {
    List<String> props = new ArrayList<>(List.of(ConsumerConfig.GROUP_PROTOCOL_CONFIG,
        kind.equals("consumer") ? "consumer" : "classic"));
    if (kind.equals("static")) {
      props.addAll(List.of(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, group + "-member",
          ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "600000"));
    }
    try (KafkaConsumer<String, String> c = consumer(group, props.toArray(new String[0]))) {
      if (regex != null) {
        c.subscribe(new SubscriptionPattern(regex));
      } else {
        c.subscribe(topics);
      }
      Map<TopicPartition, Integer> epochs = new HashMap<>();
      long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (!epochs.keySet().containsAll(offsets.keySet())) {
        if (System.nanoTime() > end) throw new IllegalStateException(group + ": no records from " + offsets.keySet());
        for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
          TopicPartition tp = tp(r.topic(), r.partition());
          if (offsets.containsKey(tp)) epochs.putIfAbsent(tp, r.leaderEpoch().orElse(-1));
        }
      }
      Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
      offsets.forEach((tp, off) -> commit.put(tp,
          new OffsetAndMetadata(off, Optional.of(epochs.get(tp)), group + "-meta-" + tp.partition())));
      c.commitSync(commit);
    }
  }

  // ------------------------------------------------------------------------------------------
  // transcript

  static void transcript() throws Exception {
    long t0 = Long.parseLong(Files.readString(state.resolve("t0")).trim());
    // The broker has started (and loaded every log) before the transcript begins.
    waitTopics(TOPICS, 15);
    String topicsRe = "dd-.*";
    for (String t : TOPICS) {
      tool("kafka-topics", org.apache.kafka.tools.TopicCommand::main, "--bootstrap-server", boot,
          "--describe", "--topic", t);
    }
    for (String time : List.of("-2", "-1", "-3", Long.toString(t0 + 2 * STEP_MS), Long.toString(t0 + 20 * STEP_MS))) {
      tool("kafka-get-offsets", org.apache.kafka.tools.GetOffsetShell::main, "--bootstrap-server", boot,
          "--topic-partitions", topicsRe, "--time", time);
    }
    for (String t : TOPICS) dump(t, "read_uncommitted");
    dump(TXN, "read_committed");
    groupsTool("--describe", "--all-groups");
    groupsTool("--describe", "--all-groups", "--state");
    groupsTool("--describe", "--group", "dd-static", "--members", "--verbose");
    txnTools(true);

    p("");
    p("== the idempotent producer goes on (raw Produce requests, the id and epoch it had)");
    String[] st = Files.readString(state.resolve("idem.state")).trim().split(" ");
    long pid = Long.parseLong(st[0]);
    short epoch = Short.parseShort(st[1]);
    int next = Integer.parseInt(st[2]);
    try (Raw raw = new Raw(boot)) {
      p("  the last batch again (sequence " + (next - IDEM_BATCH) + "): "
          + raw.produce(IDEM, 0, pid, epoch, next - IDEM_BATCH, t0 + next - IDEM_BATCH));
      p("  the next batch (sequence " + next + "): " + raw.produce(IDEM, 0, pid, epoch, next, t0 + next));
      p("  a batch after a gap (sequence " + (next + 2 * IDEM_BATCH) + "): "
          + raw.produce(IDEM, 0, pid, epoch, next + 2 * IDEM_BATCH, t0 + next));
      p("  the batch after the next one (sequence " + (next + IDEM_BATCH) + "): "
          + raw.produce(IDEM, 0, pid, epoch, next + IDEM_BATCH, t0 + next + IDEM_BATCH));
      p("  the next epoch (" + (epoch + 1) + ") not from sequence 0: "
          + raw.produce(IDEM, 0, pid, (short) (epoch + 1), 5, t0));
    }
    dump(IDEM, "read_uncommitted");

    p("");
    p("== each group resumes at its committed offsets");
    resume("dd-classic", List.of(PLAIN), null, "classic");
    resume("dd-848", List.of(PLAIN, DELETED), null, "consumer");
    resume("dd-regex", null, "dd-(plain|compact)", "consumer");
    resume("dd-txn-id-g", List.of(TXN), null, "classic");
    groupsTool("--describe", "--all-groups");

    p("");
    p("== the transactional producer goes on (initTransactions, one more committed transaction)");
    try (KafkaProducer<String, String> prod = producer(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "dd-txn-id")) {
      prod.initTransactions();
      prod.beginTransaction();
      for (int i = 0; i < 4; i++) prod.send(new ProducerRecord<>(TXN, i % 2, t0 + 100 + i, "d" + i, "d" + i));
      prod.commitTransaction();
      p("  transaction d committed");
    }
    dump(TXN, "read_committed");
    txnTools(false);

    p("");
    p("== new records continue the logs");
    try (KafkaProducer<String, String> prod = producer()) {
      for (String t : List.of(PLAIN, COMPACT, DELETED)) {
        RecordMetadata m = prod.send(new ProducerRecord<>(t, 0, t0 + 3 * STEP_MS, "new", "new-" + t)).get();
        p("  " + t + "-0: new record at offset " + m.offset());
      }
    }
    for (String t : List.of(PLAIN, DELETED)) dumpFrom(t, 0, -3);
    tool("kafka-get-offsets", org.apache.kafka.tools.GetOffsetShell::main, "--bootstrap-server", boot,
        "--topic-partitions", topicsRe, "--time", "-1");
  }

  /** Every record of TOPIC up to its end offsets (read_committed: once no transaction is open,
   * i.e. the markers of the last commit are written). */
  static void dump(String topic, String isolation) throws Exception {
    progress("read " + topic + " " + isolation);
    if (isolation.equals("read_committed")) waitStable(topic);
    p("");
    p("== " + topic + " (" + isolation + ")");
    try (KafkaConsumer<String, String> c = consumer(null, ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation)) {
      readPartitions(c, partitions(c, topic), null);
    }
  }

  static List<TopicPartition> partitions(KafkaConsumer<String, String> c, String topic) {
    return c.partitionsFor(topic).stream().map(i -> tp(topic, i.partition()))
        .sorted((x, y) -> Integer.compare(x.partition(), y.partition())).collect(Collectors.toList());
  }

  /** Until the last stable offset of every partition of TOPIC is its high watermark: EndTxn is
   * answered before the markers are written (bounded poll). */
  static void waitStable(String topic) throws Exception {
    try (KafkaConsumer<String, String> rc = consumer(null, ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        KafkaConsumer<String, String> ru = consumer(null)) {
      List<TopicPartition> tps = partitions(ru, topic);
      long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (!rc.endOffsets(tps).equals(ru.endOffsets(tps))) {
        if (System.nanoTime() > end) throw new IllegalStateException(topic + ": a transaction stays open");
        Thread.sleep(50); // poll interval until the transaction markers are written
      }
    }
  }

  /** The records of TOPIC-P from FROM (negative: that many before the end). */
  static void dumpFrom(String topic, int p, long from) {
    p("== " + topic + "-" + p + " from " + (from < 0 ? "end" + from : Long.toString(from)));
    try (KafkaConsumer<String, String> c = consumer(null)) {
      readPartitions(c, List.of(tp(topic, p)), from);
    }
  }

  /** Reads TPS from FROM (null: the log start; negative: that many before the end) up to
   * their end offsets at the time of the call, and prints them partition by partition. */
  static void readPartitions(KafkaConsumer<String, String> c, List<TopicPartition> tps, Long from) {
    c.assign(tps);
    Map<TopicPartition, Long> ends = c.endOffsets(tps);
    Map<TopicPartition, Long> begins = c.beginningOffsets(tps);
    Map<TopicPartition, List<String>> lines = new HashMap<>();
    for (TopicPartition tp : tps) {
      long b = begins.get(tp);
      c.seek(tp, from == null ? b : Math.max(b, from < 0 ? ends.get(tp) + from : from));
      lines.put(tp, new ArrayList<>());
    }
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (tps.stream().anyMatch(tp -> c.position(tp) < ends.get(tp))) {
      if (System.nanoTime() > deadline) {
        for (TopicPartition tp : tps) lines.get(tp).add("  TIMEOUT at position " + c.position(tp));
        break;
      }
      for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) {
        TopicPartition tp = tp(r.topic(), r.partition());
        if (r.offset() >= ends.get(tp)) continue;
        lines.get(tp).add("  " + r.offset() + " " + r.timestampType() + "=" + r.timestamp() + " epoch="
            + r.leaderEpoch().orElse(-1) + " key=" + r.key() + " value=" + r.value() + headers(r));
      }
    }
    for (TopicPartition tp : tps) {
      p(tp + ": log start " + begins.get(tp) + ", end " + ends.get(tp));
      lines.get(tp).forEach(DataDir::p);
    }
  }

  static String headers(ConsumerRecord<String, String> r) {
    StringBuilder b = new StringBuilder();
    for (Header h : r.headers()) {
      b.append(b.length() == 0 ? " headers=" : ",").append(h.key()).append(':')
          .append(h.value() == null ? "null" : new String(h.value(), StandardCharsets.UTF_8));
    }
    return b.toString();
  }

  /** A group member resumes: the first offset it gets per partition (= the committed offset),
   * how many records it reads to the end, then it commits and leaves. */
  static void resume(String group, List<String> topics, String regex, String protocol) throws Exception {
    progress("resume " + group);
    try (KafkaConsumer<String, String> c = consumer(group, ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        Admin adm = admin()) {
      if (regex != null) {
        c.subscribe(new SubscriptionPattern(regex));
      } else {
        c.subscribe(topics);
      }
      Map<TopicPartition, OffsetAndMetadata> committed =
          adm.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
      Map<TopicPartition, Long> ends;
      try (KafkaConsumer<String, String> probe = consumer(null)) {
        ends = probe.endOffsets(committed.keySet());
      }
      TreeMap<String, String> first = new TreeMap<>();
      Map<TopicPartition, Integer> count = new HashMap<>();
      Map<TopicPartition, Long> pos = new HashMap<>();
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (committed.keySet().stream().anyMatch(tp -> pos.getOrDefault(tp, -1L) < ends.get(tp))) {
        if (System.nanoTime() > deadline) {
          p("  " + group + ": TIMEOUT; positions " + new TreeMap<>(pos.entrySet().stream()
              .collect(Collectors.toMap(e -> e.getKey().toString(), Map.Entry::getValue))));
          break;
        }
        var records = c.poll(Duration.ofMillis(200));
        for (ConsumerRecord<String, String> r : records) {
          TopicPartition tp = tp(r.topic(), r.partition());
          first.putIfAbsent(tp.toString(), r.offset() + " (" + r.value() + ")");
          count.merge(tp, 1, Integer::sum);
        }
        for (TopicPartition tp : c.assignment()) pos.put(tp, c.position(tp));
      }
      c.commitSync();
      p("  " + group + " (" + protocol + "): committed " + new TreeMap<>(committed.entrySet().stream()
          .collect(Collectors.toMap(e -> e.getKey().toString(),
              e -> e.getValue().offset() + " epoch=" + e.getValue().leaderEpoch().orElse(-1)
                  + " metadata=" + e.getValue().metadata()))));
      p("    first record read per partition: " + first);
      p("    records read per partition: " + new TreeMap<>(count.entrySet().stream()
          .collect(Collectors.toMap(e -> e.getKey().toString(), Map.Entry::getValue))));
    }
  }

  /** kafka-transactions list, describe, describe-producers. The duration of a transaction is
   * masked, and with `written` false (after transactions of this run) so are the start time of
   * the last transaction and the time of the last marker (the broker's clock). */
  static void txnTools(boolean written) {
    // Rows sorted: the order of ListTransactions is the coordinator's map order.
    tool("kafka-transactions", org.apache.kafka.tools.TransactionsCommand::main, l -> l, true,
        "--bootstrap-server", boot, "list");
    for (String id : List.of("dd-txn-id", "dd-txn-abort")) {
      tool("kafka-transactions", org.apache.kafka.tools.TransactionsCommand::main,
          l -> maskColumns(l, "CoordinatorId", written ? new int[] {7} : new int[] {6, 7}), false,
          "--bootstrap-server", boot, "describe", "--transactional-id", id);
    }
    for (String[] tp : new String[][] {{TXN, "0"}, {TXN, "1"}, {IDEM, "0"}}) {
      tool("kafka-transactions", org.apache.kafka.tools.TransactionsCommand::main,
          l -> maskColumns(l, "ProducerId", written || tp[0].equals(IDEM) ? new int[0] : new int[] {4}), false,
          "--bootstrap-server", boot, "describe-producers", "--topic", tp[0], "--partition", tp[1]);
    }
  }

  /** A tab-separated row (not the header, which starts with HEADER) with COLUMNS replaced by
   * "(time)". */
  static String maskColumns(String line, String header, int[] columns) {
    if (line.startsWith(header)) return line;
    String[] f = line.split("\t", -1);
    for (int c : columns) {
      if (c < f.length) f[c] = "(time)";
    }
    return String.join("\t", f);
  }

  static void groupsTool(String... args) {
    String[] a = new String[args.length + 2];
    a[0] = "--bootstrap-server";
    a[1] = boot;
    System.arraycopy(args, 0, a, 2, args.length);
    tool("kafka-consumer-groups", org.apache.kafka.tools.consumer.group.ConsumerGroupCommand::main, a);
  }

  // ------------------------------------------------------------------------------------------
  // Kafka's tools in this JVM: output captured, exit turned into an exception.

  static final class ExitCalled extends RuntimeException {
    final int code;

    ExitCalled(int code) {
      super("exit " + code, null, false, false);
      this.code = code;
    }
  }

  interface Main {
    void main(String[] args) throws Exception;
  }

  static Integer firstExit;

  static void tool(String name, Main main, String... args) {
    tool(name, main, l -> l, false, args);
  }

  /** Runs a tool's main; its output lines go through MASK, and with SORT_ROWS every line after
   * the first (a table's header) is sorted. */
  static void tool(String name, Main main, java.util.function.UnaryOperator<String> mask, boolean sortRows,
      String... args) {
    progress(name + " " + String.join(" ", args));
    firstExit = null;
    Exit.setExitProcedure((code, msg) -> {
      if (firstExit == null) firstExit = code;
      throw new ExitCalled(code);
    });
    PrintStream realOut = System.out;
    PrintStream realErr = System.err;
    ByteArrayOutputStream bo = new ByteArrayOutputStream();
    ByteArrayOutputStream be = new ByteArrayOutputStream();
    int rc = 0;
    try {
      System.setOut(new PrintStream(bo, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(be, true, StandardCharsets.UTF_8));
      main.main(args);
    } catch (ExitCalled e) {
      rc = e.code;
    } catch (Exception e) {
      rc = 99;
      be.writeBytes(("exception: " + e).getBytes(StandardCharsets.UTF_8));
    } finally {
      System.setOut(realOut);
      System.setErr(realErr);
    }
    if (firstExit != null) rc = firstExit;
    p("");
    p("$ " + name + " " + String.join(" ", args).replace(boot, "BOOT") + (rc == 0 ? "" : "   [exit " + rc + "]"));
    List<String> lines = bo.toString(StandardCharsets.UTF_8).lines().map(mask).collect(Collectors.toList());
    if (sortRows && lines.size() > 2) Collections.sort(lines.subList(1, lines.size()));
    lines.forEach(l -> p("  " + l));
    be.toString(StandardCharsets.UTF_8).lines()
        .filter(l -> !l.isBlank() && !l.contains(" WARN ") && !l.contains(" INFO ") && !l.contains("ExitCalled")
            && !l.matches("exit \\d+"))
        .forEach(l -> p("  stderr: " + l));
  }

  // ------------------------------------------------------------------------------------------
  // Raw requests (InitProducerId, Produce with a given producer id / epoch / sequence).

  record ProduceResult(Errors error, long baseOffset) {
    @Override
    public String toString() {
      return error + (error == Errors.NONE ? ", base offset " + baseOffset : "");
    }
  }

  static final class Raw implements AutoCloseable {
    final Socket socket;
    final DataInputStream in;
    final DataOutputStream out;
    int correlation = 1;

    Raw(String bootstrap) throws Exception {
      int colon = bootstrap.lastIndexOf(':');
      socket = new Socket();
      socket.connect(new InetSocketAddress(bootstrap.substring(0, colon),
          Integer.parseInt(bootstrap.substring(colon + 1))), 10000);
      socket.setSoTimeout(30000);
      in = new DataInputStream(socket.getInputStream());
      out = new DataOutputStream(socket.getOutputStream());
    }

    AbstractResponse send(AbstractRequest.Builder<?> builder, short version) throws Exception {
      AbstractRequest req = builder.build(version);
      RequestHeader header = new RequestHeader(req.apiKey(), version, "datadir", correlation++);
      ByteBuffer buf = req.serializeWithHeader(header);
      out.writeInt(buf.remaining());
      out.write(buf.array(), buf.arrayOffset() + buf.position(), buf.remaining());
      out.flush();
      byte[] resp = new byte[in.readInt()];
      in.readFully(resp);
      return AbstractResponse.parseResponse(ByteBuffer.wrap(resp), header);
    }

    ProduceResult produce(String topic, int partition, long pid, short epoch, int seq, long ts) throws Exception {
      SimpleRecord[] recs = new SimpleRecord[IDEM_BATCH];
      for (int i = 0; i < IDEM_BATCH; i++) {
        recs[i] = new SimpleRecord(ts + i, ("s" + (seq + i)).getBytes(StandardCharsets.UTF_8),
            ("idem-" + (seq + i)).getBytes(StandardCharsets.UTF_8));
      }
      MemoryRecords records = MemoryRecords.withIdempotentRecords(Compression.NONE, pid, epoch, seq, recs);
      ProduceRequestData.TopicProduceDataCollection topics = new ProduceRequestData.TopicProduceDataCollection();
      topics.add(new ProduceRequestData.TopicProduceData().setName(topic).setPartitionData(List.of(
          new ProduceRequestData.PartitionProduceData().setIndex(partition).setRecords(records))));
      ProduceRequestData data = new ProduceRequestData().setAcks((short) -1).setTimeoutMs(30000)
          .setTopicData(topics);
      ProduceResponse r = (ProduceResponse) send(ProduceRequest.builder(data), (short) 11);
      for (ProduceResponseData.TopicProduceResponse t : r.data().responses()) {
        for (ProduceResponseData.PartitionProduceResponse pr : t.partitionResponses()) {
          return new ProduceResult(Errors.forCode(pr.errorCode()), pr.baseOffset());
        }
      }
      throw new IllegalStateException("no partition in the Produce response");
    }

    @Override
    public void close() throws Exception {
      socket.close();
    }
  }
}
