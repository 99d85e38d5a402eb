// Producer/consumer scenarios of the Sluice compatibility harness (no consumer groups: every
// consumer uses assign()/seek() with group.id unset and enable.auto.commit=false).
//
//   java -cp 'work/lib/*:work/classes' DataPath <mode> <bootstrap> <topic> [args...]
//
// Modes:
//   produce TOPIC CODEC N EXPECTED   N records with compression.type=CODEC into the topic's 2
//                                    partitions (explicit partition and timestamp per record,
//                                    headers with duplicate keys, a null and an empty value,
//                                    null keys and a tombstone); writes what was sent, one
//                                    record per line in kcat's `-f '%p %o %T %k %s [%h]'` form,
//                                    to EXPECTED; prints the acknowledged offsets per partition.
//   consume TOPIC EXPECTED           assign()+seekToBeginning() on every partition, poll up to
//                                    the end offsets; prints whether every record (key, value,
//                                    headers with order and duplicates, timestamp, timestamp
//                                    type, offset, partition) equals EXPECTED byte for byte.
//   large TOPIC                      a 900 KB record (accepted) and a 2 MB record (rejected by
//                                    the broker: max.request.size is 8 MB on the client).
//   oft TOPIC                        records with explicit timestamps in several batches, then
//                                    offsetsForTimes / beginningOffsets / endOffsets.
//   idem TOPIC N ACKS_FILE           idempotent producer (acks=all, unbounded retries within
//                                    delivery.timeout.ms) sending values 0..N-1 to partition 0;
//                                    every acknowledgement is appended to ACKS_FILE as
//                                    "value offset"; exits 0 when all N are acknowledged.
//   dump TOPIC                       assign()/seekToBeginning() on partition 0, prints one line
//                                    "offset value" per record up to the end offset.
//
// The transcript on stdout is deterministic for a correct broker: timestamps are set by the
// producer, errors are printed as exception class names.
import java.io.BufferedWriter;
import java.io.FileWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class DataPath {
  static final long BASE_TS = 1_700_000_000_000L;
  static String bootstrap;

  public static void main(String[] args) throws Exception {
    if (args.length < 3) {
      System.err.println("usage: DataPath produce|consume|large|oft|idem|dump <bootstrap> <topic> ...");
      System.exit(2);
    }
    bootstrap = args[1];
    String topic = args[2];
    int rc = 0;
    switch (args[0]) {
      case "produce" -> produce(topic, args[3], Integer.parseInt(args[4]), Path.of(args[5]));
      case "consume" -> rc = consume(topic, Path.of(args[3]));
      case "large" -> large(topic);
      case "oft" -> oft(topic);
      case "idem" -> rc = idem(topic, Integer.parseInt(args[3]), Path.of(args[4]));
      case "dump" -> dump(topic);
      default -> {
        System.err.println("unknown mode " + args[0]);
        rc = 2;
      }
    }
    System.exit(rc);
  }

  static void p(String s) {
    System.out.println(s);
    System.out.flush();
  }

  static String err(Throwable t) {
    while ((t instanceof ExecutionException || t.getClass().getName().endsWith("CompletionException"))
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t.getClass().getSimpleName();
  }

  static Properties producerProps() {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "60000");
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "60000");
    return p;
  }

  static KafkaConsumer<byte[], byte[]> consumer() {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
    p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
    p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
    return new KafkaConsumer<>(p);
  }

  // kcat's %k/%s/%h rendering: bytes as they are, null as empty (key/value) or NULL (header).
  static String str(byte[] b) {
    return b == null ? "" : new String(b, StandardCharsets.UTF_8);
  }

  static String headers(Iterable<Header> hs) {
    List<String> out = new ArrayList<>();
    for (Header h : hs) {
      out.add(h.key() + "=" + (h.value() == null ? "NULL" : str(h.value())));
    }
    return String.join(",", out);
  }

  static String line(int partition, long offset, long ts, byte[] k, byte[] v, Iterable<Header> hs) {
    return partition + " " + offset + " " + ts + " " + str(k) + " " + str(v) + " [" + headers(hs) + "]";
  }

  static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  // Record i of the produce scenario (deterministic).
  static ProducerRecord<byte[], byte[]> record(String topic, int i) {
    int partition = i % 2;
    byte[] key = (i % 50 == 7) ? null : b("key-" + (i % 37));
    byte[] value;
    if (i % 100 == 13) {
      value = null; // tombstone
    } else {
      StringBuilder sb = new StringBuilder("value-" + i + "-");
      for (int r = 0; r < (i % 23); r++) sb.append("compressible-").append(r % 3).append('-');
      if (i % 10 == 0) sb.append("utf8:äöü€");
      value = b(sb.toString());
    }
    List<Header> hs = new ArrayList<>();
    if (i % 3 != 0) {
      hs.add(new RecordHeader("dup", b("1")));
      hs.add(new RecordHeader("other", b("x" + i)));
      hs.add(new RecordHeader("dup", b("2")));
      hs.add(new RecordHeader("empty", new byte[0]));
      hs.add(new RecordHeader("nullv", (byte[]) null));
      hs.add(new RecordHeader("dup", b("3-" + (i % 5))));
    }
    return new ProducerRecord<>(topic, partition, BASE_TS + i * 10L, key, value, hs);
  }

  static void produce(String topic, String codec, int n, Path expected) throws Exception {
    Properties props = producerProps();
    props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
    props.put(ProducerConfig.LINGER_MS_CONFIG, "20");
    props.put(ProducerConfig.BATCH_SIZE_CONFIG, "65536");
    Map<Integer, long[]> ranges = new TreeMap<>();
    List<String> lines = new ArrayList<>();
    List<Future<RecordMetadata>> futures = new ArrayList<>();
    List<ProducerRecord<byte[], byte[]>> sent = new ArrayList<>();
    String error = null;
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
      for (int i = 0; i < n; i++) {
        ProducerRecord<byte[], byte[]> r = record(topic, i);
        sent.add(r);
        futures.add(producer.send(r));
      }
      producer.flush();
      for (int i = 0; i < n; i++) {
        try {
          RecordMetadata md = futures.get(i).get();
          ProducerRecord<byte[], byte[]> r = sent.get(i);
          lines.add(line(md.partition(), md.offset(), r.timestamp(), r.key(), r.value(), r.headers()));
          long[] rg = ranges.computeIfAbsent(md.partition(), k -> new long[] {Long.MAX_VALUE, -1, 0});
          rg[0] = Math.min(rg[0], md.offset());
          rg[1] = Math.max(rg[1], md.offset());
          rg[2]++;
        } catch (ExecutionException e) {
          if (error == null) error = err(e);
        }
      }
    }
    Files.write(expected, lines, StandardCharsets.UTF_8);
    p("produce compression.type=" + codec + " records=" + n + ": " + (error == null ? "all acknowledged" : "error " + error));
    for (Map.Entry<Integer, long[]> e : ranges.entrySet()) {
      p("  partition " + e.getKey() + ": acknowledged=" + e.getValue()[2] + " offsets " + e.getValue()[0] + ".." + e.getValue()[1]);
    }
  }

  static List<ConsumerRecord<byte[], byte[]>> readAll(KafkaConsumer<byte[], byte[]> c, List<TopicPartition> tps) {
    c.assign(tps);
    c.seekToBeginning(tps);
    Map<TopicPartition, Long> end = c.endOffsets(tps);
    List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
    long deadline = System.currentTimeMillis() + 120_000;
    while (System.currentTimeMillis() < deadline) {
      boolean done = true;
      for (TopicPartition tp : tps) {
        if (c.position(tp) < end.get(tp)) done = false;
      }
      if (done) break;
      for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) out.add(r);
    }
    return out;
  }

  static List<TopicPartition> partitions(KafkaConsumer<byte[], byte[]> c, String topic) {
    List<TopicPartition> tps = new ArrayList<>();
    for (PartitionInfo pi : c.partitionsFor(topic)) tps.add(new TopicPartition(topic, pi.partition()));
    tps.sort((a, b2) -> Integer.compare(a.partition(), b2.partition()));
    return tps;
  }

  static int consume(String topic, Path expected) throws IOException {
    List<String> want = Files.readAllLines(expected, StandardCharsets.UTF_8);
    List<String> got = new ArrayList<>();
    Map<String, Integer> tsTypes = new TreeMap<>();
    try (KafkaConsumer<byte[], byte[]> c = consumer()) {
      List<TopicPartition> tps = partitions(c, topic);
      for (ConsumerRecord<byte[], byte[]> r : readAll(c, tps)) {
        got.add(line(r.partition(), r.offset(), r.timestamp(), r.key(), r.value(), r.headers()));
        tsTypes.merge(r.timestampType().toString(), 1, Integer::sum);
      }
    }
    List<String> a = new ArrayList<>(want);
    List<String> g = new ArrayList<>(got);
    a.sort(null);
    g.sort(null);
    p("java consumer (assign/seekToBeginning, no group): records=" + got.size() + " timestamp types=" + tsTypes);
    boolean same = a.equals(g);
    p("  every record (partition, offset, timestamp, key, value, headers) equals what was sent: " + (same ? "yes" : "NO"));
    if (!same) {
      int shown = 0;
      for (int i = 0; i < Math.max(a.size(), g.size()) && shown < 5; i++) {
        String x = i < a.size() ? a.get(i) : "<none>";
        String y = i < g.size() ? g.get(i) : "<none>";
        if (!x.equals(y)) {
          p("  sent: " + x);
          p("  got:  " + y);
          shown++;
        }
      }
    }
    return 0;
  }

  static void large(String topic) throws Exception {
    Properties props = producerProps();
    props.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, String.valueOf(8 * 1024 * 1024));
    props.put(ProducerConfig.BUFFER_MEMORY_CONFIG, String.valueOf(32 * 1024 * 1024));
    props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none");
    byte[] v900 = new byte[900 * 1024];
    for (int i = 0; i < v900.length; i++) v900[i] = (byte) (i * 31 + 7);
    byte[] v2m = new byte[2 * 1024 * 1024];
    for (int i = 0; i < v2m.length; i++) v2m[i] = (byte) (i * 17 + 3);
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
      for (Object[] c : new Object[][] {{"900KB", v900}, {"2MB", v2m}, {"900KB again", v900}}) {
        try {
          RecordMetadata md = producer.send(new ProducerRecord<>(topic, 0, BASE_TS, b("k"), (byte[]) c[1])).get();
          p("send " + c[0] + " record: ok offset " + md.offset());
        } catch (ExecutionException e) {
          p("send " + c[0] + " record: " + err(e));
        }
      }
    }
    try (KafkaConsumer<byte[], byte[]> c = consumer()) {
      List<TopicPartition> tps = List.of(new TopicPartition(topic, 0));
      for (ConsumerRecord<byte[], byte[]> r : readAll(c, tps)) {
        p("read back offset " + r.offset() + ": " + r.value().length + " bytes, equal to the 900 KB record: "
            + (Arrays.equals(r.value(), v900) ? "yes" : "NO"));
      }
    }
  }

  static void oft(String topic) throws Exception {
    Properties props = producerProps();
    props.put(ProducerConfig.LINGER_MS_CONFIG, "0");
    // Batches (one send+flush each) with these record timestamps (offsets 0..): out of order
    // inside a batch, and a batch whose max timestamp lies before the previous batch's.
    long[][] batches = {{1000, 1010, 1005}, {2000, 2500, 2100}, {1500, 1600}, {3000}};
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
      int i = 0;
      for (long[] batch : batches) {
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        for (long ts : batch) {
          fs.add(producer.send(new ProducerRecord<>(topic, 0, BASE_TS + ts, null, b("r" + i++))));
        }
        producer.flush();
        StringBuilder sb = new StringBuilder("batch");
        for (int j = 0; j < batch.length; j++) {
          sb.append(" ts+").append(batch[j]).append("@").append(fs.get(j).get().offset());
        }
        p(sb.toString());
      }
    }
    try (KafkaConsumer<byte[], byte[]> c = consumer()) {
      TopicPartition tp = new TopicPartition(topic, 0);
      p("beginningOffsets " + c.beginningOffsets(List.of(tp)).get(tp) + ", endOffsets " + c.endOffsets(List.of(tp)).get(tp));
      long[] queries = {0, 999, 1000, 1001, 1005, 1006, 1011, 1500, 1601, 2000, 2101, 2500, 2501, 3000, 3001};
      for (long q : queries) {
        Map<TopicPartition, Long> m = new HashMap<>();
        m.put(tp, BASE_TS + q);
        try {
          OffsetAndTimestamp ot = c.offsetsForTimes(m).get(tp);
          p("offsetsForTimes(ts+" + q + ") = " + (ot == null ? "null" : "offset " + ot.offset() + " ts+" + (ot.timestamp() - BASE_TS)));
        } catch (RuntimeException e) {
          p("offsetsForTimes(ts+" + q + ") = " + err(e));
        }
      }
    }
  }

  static int idem(String topic, int n, Path acks) throws Exception {
    Properties props = producerProps();
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    props.put(ProducerConfig.RETRIES_CONFIG, String.valueOf(Integer.MAX_VALUE));
    props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "150000");
    props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
    props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "150000");
    props.put(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
    props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    props.put(ProducerConfig.BATCH_SIZE_CONFIG, "16384");
    AtomicLong acked = new AtomicLong();
    AtomicReference<String> error = new AtomicReference<>();
    try (PrintWriter w = new PrintWriter(new BufferedWriter(new FileWriter(acks.toFile())), false);
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
      for (int i = 0; i < n; i++) {
        final int v = i;
        producer.send(new ProducerRecord<>(topic, 0, null, b("v" + i)), (md, e) -> {
          if (e != null) {
            error.compareAndSet(null, err(e));
            return;
          }
          synchronized (w) {
            w.println(v + " " + md.offset());
            if (acked.incrementAndGet() % 1000 == 0) w.flush();
          }
        });
      }
      producer.flush();
      synchronized (w) {
        w.flush();
      }
    }
    p("idempotent producer: sent " + n + ", acknowledged " + acked.get() + (error.get() == null ? "" : ", first error " + error.get()));
    return acked.get() == n ? 0 : 1;
  }

  static void dump(String topic) {
    try (KafkaConsumer<byte[], byte[]> c = consumer()) {
      for (ConsumerRecord<byte[], byte[]> r : readAll(c, List.of(new TopicPartition(topic, 0)))) {
        p(r.offset() + " " + str(r.value()));
      }
    }
  }
}
