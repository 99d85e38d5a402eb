// AdminClient calls of the admin/ suite, printed normalized so that two brokers' transcripts
// can be compared line by line.
//
//   java -cp 'java/work/lib/*:admin/work/classes' AdminCompat <bootstrap> <topic-prefix>
//   ... AdminCompat produce <bootstrap> <topic> <partition:timestamp>...   (one record each,
//       key k<n>, value v<n>, acks=all; explicit timestamps make ListOffsets answers exact)
//
// createTopics with configs; describeConfigs with synonyms and documentation (topic, broker,
// broker default); incrementalAlterConfigs SET / DELETE / APPEND / SUBTRACT, validateOnly and
// INVALID_CONFIG errors (topic and broker); createPartitions incl. validateOnly and
// INVALID_PARTITIONS; deleteRecords incl. OFFSET_OUT_OF_RANGE; describeCluster; describeLogDirs;
// electLeaders; listPartitionReassignments; alterPartitionReassignments; describeTopics through
// DescribeTopicPartitions with a partition limit per response. (The legacy alterConfigs is no
// longer in the 4.x Admin API; offsetsForLeaderEpoch is not in the Admin API at all.)
//
// Topic names are printed relative to the prefix, errors as exception class names, maps
// sorted, paths and sizes reduced to what must be equal. Waiting is a bounded poll.
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.AlterConfigsOptions;
import org.apache.kafka.clients.admin.AlterPartitionReassignmentsResult;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.CreatePartitionsOptions;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.DeleteRecordsResult;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.DescribeConfigsOptions;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.ElectLeadersResult;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.NewPartitionReassignment;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.PartitionReassignment;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.ReplicaInfo;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringSerializer;

public final class AdminCompat {
  private static String bootstrap;
  private static String prefix;
  private static Admin admin;

  public static void main(String[] args) throws Exception {
    if (args.length >= 3 && args[0].equals("produce")) {
      bootstrap = args[1];
      List<long[]> recs = new ArrayList<>();
      for (int i = 3; i < args.length; i++) {
        String[] pt = args[i].split(":");
        recs.add(new long[] {Long.parseLong(pt[0]), Long.parseLong(pt[1])});
      }
      produce(args[2], recs);
      System.exit(0);
    }
    if (args.length < 2) {
      System.err.println("usage: AdminCompat <bootstrap> <topic-prefix>");
      System.exit(2);
    }
    bootstrap = args[0];
    prefix = args[1];
    try (Admin a = Admin.create(props())) {
      admin = a;
      run();
    }
    System.exit(0);
  }

  static Properties props() {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.CLIENT_ID_CONFIG, "sluice-admin-compat");
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
    return p;
  }

  static void p(String s) {
    System.out.println(s);
    System.out.flush();
  }

  static String t(String name) {
    return prefix + name;
  }

  static String rel(String topic) {
    return topic.startsWith(prefix) ? "~" + topic.substring(prefix.length()) : topic;
  }

  static String rel(TopicPartition tp) {
    return rel(tp.topic()) + "-" + tp.partition();
  }

  static String err(Throwable t) {
    while ((t instanceof ExecutionException || t instanceof CompletionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return "error=" + t.getClass().getSimpleName();
  }

  static <T> String outcome(KafkaFuture<T> f) {
    try {
      f.get();
      return "ok";
    } catch (Exception e) {
      return err(e);
    }
  }

  static String id(Node n) {
    return n == null ? "none" : String.valueOf(n.id());
  }

  // ------------------------------------------------------------------------------------------

  static void run() throws Exception {
    DescribeClusterResult cl = admin.describeCluster();
    List<String> nodes = new ArrayList<>();
    for (Node n : cl.nodes().get()) {
      nodes.add(n.id() + " rack=" + n.rack());
    }
    p("describeCluster nodes=" + nodes + " controller=" + id(cl.controller().get())
        + " clusterId=" + (cl.clusterId().get() == null ? "null" : "set"));
    int node = cl.nodes().get().iterator().next().id();
    // A run that failed half-way must not leave broker configs behind on a shared broker.
    Map<ConfigResource, Collection<AlterConfigOp>> reset = new HashMap<>();
    reset.put(new ConfigResource(ConfigResource.Type.BROKER, String.valueOf(node)), List.of(
        op("log.segment.bytes", null, AlterConfigOp.OpType.DELETE),
        op("log.cleanup.policy", null, AlterConfigOp.OpType.DELETE)));
    reset.put(new ConfigResource(ConfigResource.Type.BROKER, ""), List.of(
        op("log.retention.ms", null, AlterConfigOp.OpType.DELETE)));
    outcome(admin.incrementalAlterConfigs(reset).all());

    String ta = t("cfg"), tb = t("grow"), tc = t("del");
    Map<String, String> cfgs = new TreeMap<>();
    cfgs.put("retention.ms", "7200000");
    cfgs.put("cleanup.policy", "delete");
    cfgs.put("max.message.bytes", "30000");
    CreateTopicsResult cr = admin.createTopics(List.of(
        new NewTopic(ta, 1, (short) 1).configs(cfgs),
        new NewTopic(tb, 2, (short) 1),
        new NewTopic(tc, 2, (short) 1)));
    for (String n : List.of(ta, tb, tc)) {
      String extra = "";
      try {
        Config c = cr.config(n).get();
        extra = " retention.ms=" + c.get("retention.ms").value() + "("
            + c.get("retention.ms").source() + ")";
      } catch (Exception e) {
        extra = " config " + err(e);
      }
      p("createTopics " + rel(n) + ": " + outcome(cr.values().get(n)) + extra);
    }
    awaitPartitions(ta, 1);
    awaitPartitions(tb, 2);
    awaitPartitions(tc, 2);

    configs(ta, node);
    partitions(tb);
    records(tc);
    logDirs(node, List.of(ta, tb, tc));
    leadership(ta, tb);
    describeTopics(List.of(ta, tb, tc, t("missing")));

    p("deleteTopics: " + outcome(admin.deleteTopics(List.of(ta, tb, tc)).all()));
  }

  /** Poll (bounded) until the topic is described with `n` partitions. */
  static void awaitPartitions(String topic, int n) throws Exception {
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (System.nanoTime() < deadline) {
      try {
        TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get()
            .get(topic);
        if (d.partitions().size() == n
            && d.partitions().stream().allMatch(pi -> pi.leader() != null)) {
          return;
        }
      } catch (Exception e) {
        // not there yet
      }
      Thread.sleep(100); // poll interval
    }
    p("(" + rel(topic) + " did not get " + n + " partitions within 60 s)");
  }

  // ------------------------------------------------------------------------------------------
  // configs

  static String entry(ConfigEntry e, boolean docs) {
    StringBuilder b = new StringBuilder();
    b.append(e.name()).append("=").append(e.isSensitive() ? "(sensitive)" : e.value())
        .append(" source=").append(e.source()).append(" default=").append(e.isDefault())
        .append(" readOnly=").append(e.isReadOnly()).append(" sensitive=")
        .append(e.isSensitive()).append(" type=").append(e.type());
    List<String> syn = new ArrayList<>();
    for (ConfigEntry.ConfigSynonym s : e.synonyms()) {
      syn.add(s.source() + ":" + s.name() + "=" + s.value());
    }
    b.append(" synonyms=").append(syn);
    if (docs) {
      // Only whether there is a text: Sluice's own texts are shorter (FINDINGS.md A2).
      b.append(" doc=").append(e.documentation() == null ? "null"
          : e.documentation().isEmpty() ? "empty" : "present");
    }
    return b.toString();
  }

  static void describe(String label, ConfigResource r, List<String> keys, boolean docs) {
    try {
      Config c = admin.describeConfigs(List.of(r),
          new DescribeConfigsOptions().includeSynonyms(true).includeDocumentation(docs))
          .all().get().get(r);
      for (String k : keys) {
        ConfigEntry e = c.get(k);
        p(label + " " + (e == null ? k + " absent" : entry(e, docs)));
      }
    } catch (Exception e) {
      p(label + " " + err(e));
    }
  }

  static void alter(String label, ConfigResource r, boolean validateOnly, AlterConfigOp... ops)
      throws Exception {
    Map<ConfigResource, Collection<AlterConfigOp>> m = new HashMap<>();
    m.put(r, List.of(ops));
    String out = outcome(admin.incrementalAlterConfigs(m,
        new AlterConfigsOptions().validateOnly(validateOnly)).all());
    p(label + ": " + out);
    if (out.equals("ok") && !validateOnly) {
      awaitApplied(r, ops);
    }
  }

  /**
   * Kafka applies a config change when its broker replays the controller's record, after the
   * answer: poll (bounded) until DescribeConfigs shows every change.
   */
  static void awaitApplied(ConfigResource r, AlterConfigOp... ops) throws Exception {
    ConfigEntry.ConfigSource own = r.type() == ConfigResource.Type.TOPIC
        ? ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG
        : r.name().isEmpty() ? ConfigEntry.ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG
        : ConfigEntry.ConfigSource.DYNAMIC_BROKER_CONFIG;
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (System.nanoTime() < deadline) {
      Config c = admin.describeConfigs(List.of(r)).all().get().get(r);
      boolean done = true;
      for (AlterConfigOp op : ops) {
        ConfigEntry e = c.get(op.configEntry().name());
        String want = op.configEntry().value();
        List<String> items = e == null || e.value() == null ? List.of()
            : List.of(e.value().split(","));
        done &= switch (op.opType()) {
          case SET -> e != null && want.equals(e.value());
          case DELETE -> e == null || e.source() != own;
          case APPEND -> items.contains(want);
          case SUBTRACT -> !items.contains(want);
        };
      }
      if (done) {
        return;
      }
      Thread.sleep(50); // poll interval
    }
    p("(config change on " + r + " not visible within 30 s)");
  }

  static AlterConfigOp op(String k, String v, AlterConfigOp.OpType type) {
    return new AlterConfigOp(new ConfigEntry(k, v), type);
  }

  static void configs(String topic, int node) throws Exception {
    ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
    List<String> keys = List.of("retention.ms", "cleanup.policy", "max.message.bytes",
        "segment.bytes", "min.insync.replicas", "message.timestamp.type", "compression.type");
    describe("describeConfigs topic", r, keys, true);
    AlterConfigOp.OpType set = AlterConfigOp.OpType.SET;
    AlterConfigOp.OpType del = AlterConfigOp.OpType.DELETE;
    AlterConfigOp.OpType app = AlterConfigOp.OpType.APPEND;
    AlterConfigOp.OpType sub = AlterConfigOp.OpType.SUBTRACT;
    alter("incrementalAlterConfigs validateOnly set segment.ms", r, true,
        op("segment.ms", "600000", set));
    alter("incrementalAlterConfigs set segment.ms, delete retention.ms", r, false,
        op("segment.ms", "600000", set), op("retention.ms", null, del));
    alter("incrementalAlterConfigs append cleanup.policy compact", r, false,
        op("cleanup.policy", "compact", app));
    alter("incrementalAlterConfigs subtract cleanup.policy delete", r, false,
        op("cleanup.policy", "delete", sub));
    alter("incrementalAlterConfigs append to a non-list", r, false,
        op("retention.ms", "5", app));
    alter("incrementalAlterConfigs invalid value", r, false, op("retention.ms", "soon", set));
    alter("incrementalAlterConfigs invalid cleanup.policy", r, false,
        op("cleanup.policy", "bogus", set));
    alter("incrementalAlterConfigs unknown key", r, false, op("no.such.config", "1", set));
    alter("incrementalAlterConfigs validateOnly invalid", r, true,
        op("max.message.bytes", "-5x", set));
    alter("incrementalAlterConfigs missing topic", new ConfigResource(ConfigResource.Type.TOPIC,
        t("missing")), false, op("retention.ms", "1", set));
    describe("describeConfigs topic after", r, List.of("retention.ms", "segment.ms",
        "cleanup.policy"), false);

    ConfigResource b = new ConfigResource(ConfigResource.Type.BROKER, String.valueOf(node));
    ConfigResource bd = new ConfigResource(ConfigResource.Type.BROKER, "");
    List<String> bkeys = List.of("log.retention.ms", "log.retention.hours", "log.segment.bytes",
        "num.partitions", "log.cleanup.policy", "message.max.bytes");
    describe("describeConfigs broker", b, bkeys, false);
    alter("incrementalAlterConfigs broker default set log.retention.ms", bd, false,
        op("log.retention.ms", "86400000", set));
    alter("incrementalAlterConfigs broker set log.segment.bytes", b, false,
        op("log.segment.bytes", "30000000", set));
    alter("incrementalAlterConfigs broker append log.cleanup.policy compact", b, false,
        op("log.cleanup.policy", "compact", app));
    alter("incrementalAlterConfigs broker validateOnly invalid", b, true,
        op("log.segment.bytes", "x", set));
    alter("incrementalAlterConfigs broker static key", b, false, op("log.dirs", "/x", set));
    describe("describeConfigs broker after", b, bkeys, false);
    describe("describeConfigs broker default after", bd, List.of("log.retention.ms",
        "log.segment.bytes"), false);
    describe("describeConfigs topic with broker overrides", r, List.of("retention.ms",
        "segment.bytes"), false);
    alter("incrementalAlterConfigs broker delete", b, false, op("log.segment.bytes", null, del),
        op("log.cleanup.policy", null, del));
    alter("incrementalAlterConfigs broker default delete", bd, false,
        op("log.retention.ms", null, del));
    describe("describeConfigs broker reset", b, List.of("log.retention.ms",
        "log.segment.bytes", "log.cleanup.policy"), false);
  }

  // ------------------------------------------------------------------------------------------
  // partitions, records, log dirs

  static void partitions(String topic) throws Exception {
    Map<String, NewPartitions> m = new TreeMap<>();
    m.put(topic, NewPartitions.increaseTo(4));
    p("createPartitions validateOnly to 4: " + outcome(admin.createPartitions(m,
        new CreatePartitionsOptions().validateOnly(true)).all()));
    awaitPartitions(topic, 2);
    p("createPartitions to 3: " + outcome(admin.createPartitions(
        Map.of(topic, NewPartitions.increaseTo(3))).all()));
    awaitPartitions(topic, 3);
    p("createPartitions to 2 (fewer): " + outcome(admin.createPartitions(
        Map.of(topic, NewPartitions.increaseTo(2))).all()));
    p("createPartitions to 3 (same): " + outcome(admin.createPartitions(
        Map.of(topic, NewPartitions.increaseTo(3))).all()));
    p("createPartitions to 4 with assignment [[2]]: " + outcome(admin.createPartitions(
        Map.of(topic, NewPartitions.increaseTo(4, List.of(List.of(2))))).all()));
    p("createPartitions missing topic: " + outcome(admin.createPartitions(
        Map.of(t("missing"), NewPartitions.increaseTo(4))).all()));
  }

  /** One record per (partition, timestamp), each acknowledged before the next. */
  static void produce(String topic, List<long[]> recs) throws Exception {
    Properties pp = new Properties();
    pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    pp.put(ProducerConfig.ACKS_CONFIG, "all");
    pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    try (KafkaProducer<String, String> pr = new KafkaProducer<>(pp)) {
      int n = 0;
      for (long[] r : recs) {
        pr.send(new ProducerRecord<>(topic, (int) r[0], r[1], "k" + n, "v" + n)).get();
        n++;
      }
    }
  }

  static void records(String topic) throws Exception {
    long now = System.currentTimeMillis();
    List<long[]> recs = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      recs.add(new long[] {0, now + i});
    }
    produce(topic, recs);
    TopicPartition p0 = new TopicPartition(topic, 0);
    TopicPartition p1 = new TopicPartition(topic, 1);
    Map<TopicPartition, RecordsToDelete> m = new TreeMap<>((a, b) -> rel(a).compareTo(rel(b)));
    m.put(p0, RecordsToDelete.beforeOffset(3));
    m.put(p1, RecordsToDelete.beforeOffset(0));
    DeleteRecordsResult r = admin.deleteRecords(m);
    for (TopicPartition tp : m.keySet()) {
      String low;
      try {
        low = "low watermark " + r.lowWatermarks().get(tp).get().lowWatermark();
      } catch (Exception e) {
        low = err(e);
      }
      p("deleteRecords " + rel(tp) + " before " + m.get(tp).beforeOffset() + ": " + low);
    }
    for (long off : new long[] {99, 2, -1}) {
      try {
        long low = admin.deleteRecords(Map.of(p0, RecordsToDelete.beforeOffset(off)))
            .lowWatermarks().get(p0).get().lowWatermark();
        p("deleteRecords " + rel(p0) + " before " + off + ": low watermark " + low);
      } catch (Exception e) {
        p("deleteRecords " + rel(p0) + " before " + off + ": " + err(e));
      }
    }
  }

  static void logDirs(int node, List<String> topics) throws Exception {
    Map<Integer, Map<String, LogDirDescription>> d = admin.describeLogDirs(List.of(node))
        .allDescriptions().get();
    for (Map.Entry<Integer, Map<String, LogDirDescription>> b : d.entrySet()) {
      p("describeLogDirs broker=" + (b.getKey() == node ? "node" : b.getKey()) + " dirs="
          + b.getValue().size());
      for (LogDirDescription ld : b.getValue().values()) {
        Map<String, String> ours = new TreeMap<>();
        for (Map.Entry<TopicPartition, ReplicaInfo> e : ld.replicaInfos().entrySet()) {
          if (topics.contains(e.getKey().topic())) {
            ReplicaInfo ri = e.getValue();
            ours.put(rel(e.getKey()), "size" + (ri.size() > 0 ? ">0" : "=" + ri.size())
                + " lag=" + ri.offsetLag() + " future=" + ri.isFuture());
          }
        }
        p("  error=" + (ld.error() == null ? "none" : ld.error().getClass().getSimpleName())
            + " total=" + (ld.totalBytes().isPresent() ? "set" : "absent") + " usable="
            + (ld.usableBytes().isPresent() ? "set" : "absent"));
        for (Map.Entry<String, String> e : ours.entrySet()) {
          p("  " + e.getKey() + " " + e.getValue());
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // elections and reassignments

  static void leadership(String ta, String tb) throws Exception {
    TopicPartition a0 = new TopicPartition(ta, 0);
    TopicPartition b1 = new TopicPartition(tb, 1);
    TopicPartition b9 = new TopicPartition(tb, 9);
    TopicPartition m0 = new TopicPartition(t("missing"), 0);
    for (ElectionType type : ElectionType.values()) {
      ElectLeadersResult r = admin.electLeaders(type, Set.of(a0, b1, b9, m0));
      Map<String, String> out = new TreeMap<>();
      try {
        for (Map.Entry<TopicPartition, Optional<Throwable>> e : r.partitions().get().entrySet()) {
          out.put(rel(e.getKey()), e.getValue().map(AdminCompat::err).orElse("elected"));
        }
        p("electLeaders " + type + ": " + out);
      } catch (Exception e) {
        p("electLeaders " + type + ": " + err(e));
      }
      try {
        p("electLeaders " + type + " all partitions: " + admin.electLeaders(type, null)
            .partitions().get().size() + " results");
      } catch (Exception e) {
        p("electLeaders " + type + " all partitions: " + err(e));
      }
    }

    p("listPartitionReassignments: " + admin.listPartitionReassignments().reassignments().get());
    Map<TopicPartition, Optional<NewPartitionReassignment>> m = new TreeMap<>(
        (x, y) -> rel(x).compareTo(rel(y)));
    m.put(a0, Optional.of(new NewPartitionReassignment(List.of(1))));
    m.put(new TopicPartition(tb, 0), Optional.of(new NewPartitionReassignment(List.of(2))));
    m.put(b1, Optional.empty());
    m.put(b9, Optional.of(new NewPartitionReassignment(List.of(1))));
    m.put(m0, Optional.of(new NewPartitionReassignment(List.of(1))));
    AlterPartitionReassignmentsResult ar = admin.alterPartitionReassignments(m);
    for (TopicPartition tp : m.keySet()) {
      p("alterPartitionReassignments " + rel(tp) + " to "
          + m.get(tp).map(x -> x.targetReplicas().toString()).orElse("cancel") + ": "
          + outcome(ar.values().get(tp)));
    }
    Map<TopicPartition, PartitionReassignment> ongoing = admin.listPartitionReassignments(
        Set.of(a0, b1)).reassignments().get();
    p("listPartitionReassignments of two: " + ongoing);
  }

  static void describeTopics(List<String> names) throws Exception {
    // A limit of 2 partitions per response makes the client page through
    // DescribeTopicPartitions with a cursor.
    Map<String, KafkaFuture<TopicDescription>> fs = admin.describeTopics(names,
        new DescribeTopicsOptions().partitionSizeLimitPerResponse(2)).topicNameValues();
    for (String n : names) {
      try {
        TopicDescription d = fs.get(n).get();
        List<String> parts = new ArrayList<>();
        for (TopicPartitionInfo pi : d.partitions()) {
          parts.add(pi.partition() + ":leader=" + id(pi.leader()) + ",replicas="
              + pi.replicas().stream().map(AdminCompat::id).toList() + ",isr="
              + pi.isr().stream().map(AdminCompat::id).toList() + ",elr="
              + (pi.elr() == null ? "null" : pi.elr().stream().map(AdminCompat::id).toList())
              + ",lastKnownElr=" + (pi.lastKnownElr() == null ? "null"
                  : pi.lastKnownElr().stream().map(AdminCompat::id).toList()));
        }
        p("describeTopics " + rel(n) + ": internal=" + d.isInternal() + " partitions=" + parts);
      } catch (Exception e) {
        p("describeTopics " + rel(n) + ": " + err(e));
      }
    }
  }
}
