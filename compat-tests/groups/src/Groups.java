// Consumer-group helper program for compat-tests/groups (Kafka 4.3.1 clients).
//
//   java -cp 'java/work/lib/*:groups/work/classes' Groups <mode> <bootstrap> ARGS...
//
// Modes (every mode prints a line-oriented transcript on stdout):
//   create-topic  BOOT TOPIC PARTITIONS        create a topic, poll until its metadata is visible
//   produce       BOOT TOPIC PARTITIONS COUNT PREFIX [BASE_TS STEP_MS]
//                 COUNT records, record i to partition i % PARTITIONS, key = value = PREFIX-i;
//                 with BASE_TS, record i carries CreateTime BASE_TS + i * STEP_MS
//   member        BOOT TOPIC GROUP NAME [consumer.prop=value...]
//                 one group member (classic protocol, manual commits). Event lines:
//                   OWNED <name> gen=<g> <p,p,...>   after every onPartitionsAssigned
//                   REVOKED/LOST <name> <p,...>      rebalance callbacks
//                   R <name> <partition> <offset> <value>  every record, before its commit
//                   CLOSED <name>                    after close() (on SIGTERM)
//                 It commits synchronously after every polled batch and in onPartitionsRevoked,
//                 so a clean handover never re-delivers a record.
//   consume-all   BOOT TOPIC GROUP COUNT [consumer.prop=value...]
//                 consume COUNT records in the group, commit, close (leaves an inactive group)
//   join-timing   BOOT TOPIC GROUP_PREFIX ITERATIONS [consumer.prop=value...]
//                 three consumers in threads: two join and settle, then the time from the third
//                 one's subscribe() to a stable 3-member assignment is measured (stderr TIMING
//                 lines; stdout only says whether the group became stable)
//   consumer-protocol  BOOT TOPIC GROUP COUNT
//                 a group.protocol=consumer (KIP-848) consumer; prints what it consumed or the
//                 exception it got
//   broker-config BOOT NAME                    the broker's value of config NAME
//   cg-server                                  runs kafka-consumer-groups (ConsumerGroupCommand)
//                 once per stdin line (arguments separated by tabs) in this one JVM; prints the
//                 tool's stdout, the lines of its stderr that start with "Error", and then a
//                 line "\u0001END <exit status>" (saves a JVM start per command)
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Exit;
import org.apache.kafka.tools.consumer.group.ConsumerGroupCommand;

public final class Groups {
  static final PrintStream OUT =
      new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);

  static synchronized void p(String s) {
    OUT.println(s);
  }

  public static void main(String[] a) throws Exception {
    if (a.length == 1 && a[0].equals("cg-server")) {
      cgServer();
      System.exit(0);
    }
    if (a.length < 2) {
      System.err.println("usage: Groups <mode> <bootstrap> ARGS... (see the source header)");
      System.exit(2);
    }
    String boot = a[1];
    switch (a[0]) {
      case "create-topic" -> createTopic(boot, a[2], Integer.parseInt(a[3]));
      case "produce" -> produce(boot, a[2], Integer.parseInt(a[3]), Integer.parseInt(a[4]), a[5],
          a.length > 7 ? Long.parseLong(a[6]) : -1, a.length > 7 ? Long.parseLong(a[7]) : 0);
      case "member" -> member(boot, a[2], a[3], a[4], extra(a, 5));
      case "consume-all" -> consumeAll(boot, a[2], a[3], Integer.parseInt(a[4]), extra(a, 5));
      case "join-timing" -> joinTiming(boot, a[2], a[3], Integer.parseInt(a[4]), extra(a, 5));
      case "consumer-protocol" -> consumerProtocol(boot, a[2], a[3], Integer.parseInt(a[4]));
      case "broker-config" -> brokerConfig(boot, a[2]);
      default -> {
        System.err.println("unknown mode " + a[0]);
        System.exit(2);
      }
    }
    System.exit(0);
  }

  static Properties extra(String[] a, int from) {
    Properties p = new Properties();
    for (int i = from; i < a.length; i++) {
      int eq = a[i].indexOf('=');
      if (eq < 0) throw new IllegalArgumentException("expected key=value, got " + a[i]);
      p.put(a[i].substring(0, eq), a[i].substring(eq + 1));
    }
    return p;
  }

  static Admin admin(String boot) {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
    return Admin.create(p);
  }

  static void createTopic(String boot, String topic, int partitions) throws Exception {
    try (Admin adm = admin(boot)) {
      try {
        adm.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
      } catch (java.util.concurrent.ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) throw e;
      }
      long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (true) {
        try {
          int n = adm.describeTopics(List.of(topic)).allTopicNames().get()
              .get(topic).partitions().size();
          if (n == partitions) break;
        } catch (java.util.concurrent.ExecutionException e) {
          // not visible yet
        }
        if (System.nanoTime() > end) throw new IllegalStateException("topic not visible: " + topic);
        Thread.sleep(100); // poll interval
      }
      p("created topic with " + partitions + " partitions");
    }
  }

  static void produce(String boot, String topic, int partitions, int count, String prefix,
      long baseTs, long stepMs) throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    try (KafkaProducer<String, String> prod = new KafkaProducer<>(p)) {
      List<java.util.concurrent.Future<?>> fs = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        String v = prefix + "-" + i;
        Long ts = baseTs >= 0 ? baseTs + i * stepMs : null;
        fs.add(prod.send(new ProducerRecord<>(topic, i % partitions, ts, v, v)));
      }
      prod.flush();
      for (var f : fs) f.get();
    }
    p("produced " + count + " records (" + prefix + ")");
  }

  static Properties consumerProps(String boot, String group, Properties extra) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.putAll(extra);
    return p;
  }

  static String parts(Collection<TopicPartition> tps) {
    return tps.stream().map(TopicPartition::partition).sorted().map(String::valueOf)
        .collect(Collectors.joining(","));
  }

  // ------------------------------------------------------------------------------------------
  // member: one long-running group member, stopped with SIGTERM (clean close) or SIGKILL.

  static void member(String boot, String topic, String group, String name, Properties extra)
      throws Exception {
    Properties props = consumerProps(boot, group, extra);
    props.putIfAbsent(ConsumerConfig.CLIENT_ID_CONFIG, name);
    KafkaConsumer<String, String> c = new KafkaConsumer<>(props);
    Set<TopicPartition> owned = new TreeSet<>((x, y) -> Integer.compare(x.partition(), y.partition()));
    AtomicBoolean stop = new AtomicBoolean();
    CountDownLatch closed = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      stop.set(true);
      c.wakeup();
      try {
        closed.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }));
    c.subscribe(List.of(topic), new ConsumerRebalanceListener() {
      @Override
      public void onPartitionsRevoked(Collection<TopicPartition> tps) {
        // Commit what was processed before giving the partitions away (clean handover).
        try {
          c.commitSync();
        } catch (RuntimeException e) {
          p("COMMITFAIL " + name + " in-revoke " + e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        owned.removeAll(tps);
        p("REVOKED " + name + " " + parts(tps));
      }

      @Override
      public void onPartitionsAssigned(Collection<TopicPartition> tps) {
        owned.addAll(tps);
        p("OWNED " + name + " gen=" + c.groupMetadata().generationId() + " " + parts(owned));
      }

      @Override
      public void onPartitionsLost(Collection<TopicPartition> tps) {
        owned.removeAll(tps);
        p("LOST " + name + " " + parts(tps));
      }
    });
    p("START " + name);
    try {
      while (!stop.get()) {
        ConsumerRecords<String, String> recs = c.poll(Duration.ofMillis(200));
        if (recs.isEmpty()) continue;
        for (ConsumerRecord<String, String> r : recs) {
          p("R " + name + " " + r.partition() + " " + r.offset() + " " + r.value());
        }
        try {
          c.commitSync();
        } catch (WakeupException e) {
          throw e;
        } catch (RuntimeException e) {
          p("COMMITFAIL " + name + " " + e.getClass().getSimpleName() + ": " + e.getMessage());
        }
      }
    } catch (WakeupException e) {
      // SIGTERM
    } finally {
      c.close();
      p("CLOSED " + name);
      closed.countDown();
    }
  }

  static void consumeAll(String boot, String topic, String group, int count, Properties extra) {
    try (KafkaConsumer<String, String> c = new KafkaConsumer<>(consumerProps(boot, group, extra))) {
      c.subscribe(List.of(topic));
      int n = 0;
      long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (n < count && System.nanoTime() < end) {
        n += c.poll(Duration.ofMillis(200)).count();
      }
      c.commitSync();
      p("consumed " + n + " records and committed");
    }
  }

  // ------------------------------------------------------------------------------------------
  // join-timing

  static final class Timed implements Runnable {
    final String name;
    final Properties props;
    final String topic;
    final AtomicBoolean stop = new AtomicBoolean();
    volatile int gen = -1;
    volatile Set<Integer> owned = Set.of();
    volatile long subscribedAt;
    volatile Throwable failed;
    KafkaConsumer<String, String> c;
    final Thread thread;

    Timed(String name, String topic, Properties props) {
      this.name = name;
      this.topic = topic;
      this.props = props;
      this.thread = new Thread(this, name);
    }

    @Override
    public void run() {
      try (KafkaConsumer<String, String> cons = new KafkaConsumer<>(props)) {
        c = cons;
        Set<Integer> mine = new HashSet<>();
        subscribedAt = System.nanoTime();
        cons.subscribe(List.of(topic), new ConsumerRebalanceListener() {
          @Override
          public void onPartitionsRevoked(Collection<TopicPartition> tps) {
            tps.forEach(tp -> mine.remove(tp.partition()));
            owned = Set.copyOf(mine);
          }

          @Override
          public void onPartitionsAssigned(Collection<TopicPartition> tps) {
            tps.forEach(tp -> mine.add(tp.partition()));
            owned = Set.copyOf(mine);
            gen = cons.groupMetadata().generationId();
          }
        });
        while (!stop.get()) cons.poll(Duration.ofMillis(100));
      } catch (WakeupException e) {
        // stop
      } catch (Throwable t) {
        failed = t;
      }
    }
  }

  static boolean stable(List<Timed> ms, int partitions) {
    int g = ms.get(0).gen;
    Set<Integer> all = new HashSet<>();
    int total = 0;
    for (Timed m : ms) {
      if (m.gen != g || g < 0 || m.owned.isEmpty()) return false;
      all.addAll(m.owned);
      total += m.owned.size();
    }
    return all.size() == partitions && total == partitions;
  }

  static boolean awaitStable(List<Timed> ms, int partitions, Duration max) throws Exception {
    long end = System.nanoTime() + max.toNanos();
    while (System.nanoTime() < end) {
      for (Timed m : ms) {
        if (m.failed != null) throw new RuntimeException(m.name + " failed", m.failed);
      }
      if (stable(ms, partitions)) return true;
      Thread.sleep(5); // poll interval
    }
    return false;
  }

  static void joinTiming(String boot, String topic, String groupPrefix, int iterations,
      Properties extra) throws Exception {
    int partitions = 6;
    List<Long> ms = new ArrayList<>();
    for (int it = 1; it <= iterations; it++) {
      String group = groupPrefix + "-" + it;
      List<Timed> members = new ArrayList<>();
      for (int i = 1; i <= 3; i++) {
        Properties p = consumerProps(boot, group, extra);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "timing-" + i);
        members.add(new Timed("m" + i, topic, p));
      }
      members.get(0).thread.start();
      members.get(1).thread.start();
      boolean two = awaitStable(members.subList(0, 2), partitions, Duration.ofSeconds(60));
      int genBefore = members.get(0).gen;
      long t0 = System.nanoTime();
      members.get(2).thread.start();
      boolean three = awaitStable(members, partitions, Duration.ofSeconds(60));
      long took = (System.nanoTime() - t0) / 1_000_000;
      // The number of rebalances the join took depends on when the members' heartbeats fall
      // (a cooperative join takes 2, sometimes 3): reported on stderr with the timing only.
      p("iteration " + it + ": 2 members stable=" + two + ", 3 members stable after join=" + three);
      System.err.println("TIMING iteration=" + it + " join_to_stable_ms=" + took
          + " generation_before=" + genBefore + " generation_after=" + members.get(0).gen
          + " rebalances_for_the_join=" + (members.get(0).gen - genBefore));
      ms.add(took);
      for (Timed m : members) {
        m.stop.set(true);
      }
      for (Timed m : members) {
        m.thread.join(60_000);
      }
    }
    Collections.sort(ms);
    System.err.println("TIMING summary join_to_stable_ms min=" + ms.get(0) + " median="
        + ms.get(ms.size() / 2) + " max=" + ms.get(ms.size() - 1) + " all=" + ms);
  }

  // ------------------------------------------------------------------------------------------

  static void consumerProtocol(String boot, String topic, String group, int count) {
    Properties p = consumerProps(boot, group, new Properties());
    p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
    try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
      c.subscribe(List.of(topic));
      int n = 0;
      long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (n < count && System.nanoTime() < end) {
        n += c.poll(Duration.ofMillis(200)).count();
      }
      c.commitSync();
      p("group.protocol=consumer: consumed " + n + " records and committed");
    } catch (RuntimeException e) {
      p("group.protocol=consumer: " + e.getClass().getName() + ": " + e.getMessage());
    }
  }

  static void brokerConfig(String boot, String name) throws Exception {
    try (Admin adm = admin(boot)) {
      String node = String.valueOf(adm.describeCluster().nodes().get().iterator().next().id());
      ConfigResource r = new ConfigResource(ConfigResource.Type.BROKER, node);
      Map<ConfigResource, Config> m = adm.describeConfigs(List.of(r)).all().get();
      var e = m.get(r).get(name);
      p(e == null ? "" : e.value());
    }
  }

  // ------------------------------------------------------------------------------------------
  // cg-server

  static final class ExitCalled extends RuntimeException {
    final int code;

    ExitCalled(int code) {
      super("exit " + code, null, false, false);
      this.code = code;
    }
  }

  static void cgServer() throws Exception {
    Exit.setExitProcedure((code, msg) -> {
      throw new ExitCalled(code);
    });
    PrintStream realOut = System.out;
    PrintStream realErr = System.err;
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      String[] args = line.split("\t", -1);
      ByteArrayOutputStream bo = new ByteArrayOutputStream();
      ByteArrayOutputStream be = new ByteArrayOutputStream();
      int rc = 0;
      System.setOut(new PrintStream(bo, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(be, true, StandardCharsets.UTF_8));
      try {
        ConsumerGroupCommand.main(args);
      } catch (ExitCalled e) {
        rc = e.code;
      } catch (Throwable t) {
        rc = 1;
        System.err.println("Error (uncaught): " + t);
      } finally {
        System.out.flush();
        System.err.flush();
        System.setOut(realOut);
        System.setErr(realErr);
      }
      String out = bo.toString(StandardCharsets.UTF_8);
      String err = be.toString(StandardCharsets.UTF_8);
      StringBuilder sb = new StringBuilder(out);
      if (sb.length() > 0 && sb.charAt(sb.length() - 1) != '\n') sb.append('\n');
      for (String l : err.split("\n")) {
        if (l.startsWith("Error")) sb.append(l).append('\n');
      }
      sb.append("\u0001END ").append(rc).append('\n');
      OUT.print(sb);
      OUT.flush();
      realErr.print(err);
      realErr.flush();
    }
  }
}
