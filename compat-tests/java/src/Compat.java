// Java client scenarios for the Sluice compatibility harness.
//
//   java -cp 'work/lib/*:work/classes' Compat <scenario> <bootstrap> <topic-prefix> [--verbose]
//
// Scenarios:
//   admin       AdminClient: describeCluster, createTopics (ok + error cases + validateOnly),
//               listTopics, describeTopics, deleteTopics (by name and by topic id).
//   autocreate  Metadata with allow_auto_topic_creation true/false, through
//               KafkaConsumer.partitionsFor, checked afterwards with AdminClient.
//
// The transcript on stdout is normalized by construction: topic names are printed relative to the
// prefix, errors as exception class names (with --verbose also the broker's message, which is
// compared informationally only), lists sorted, UUIDs replaced by "set"/"zero". Waiting for
// metadata to propagate is a bounded poll, never a sleep-and-hope.
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.DeleteTopicsResult;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicCollection;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public final class Compat {
  private static String bootstrap;
  private static String prefix;
  private static boolean verbose;

  public static void main(String[] args) throws Exception {
    if (args.length < 3) {
      System.err.println("usage: Compat admin|autocreate <bootstrap> <topic-prefix> [--verbose]");
      System.exit(2);
    }
    bootstrap = args[1];
    prefix = args[2];
    verbose = args.length > 3 && args[3].equals("--verbose");
    switch (args[0]) {
      case "admin" -> admin();
      case "autocreate" -> autocreate();
      default -> {
        System.err.println("unknown scenario " + args[0]);
        System.exit(2);
      }
    }
    System.exit(0);
  }

  // ------------------------------------------------------------------------------------------
  // helpers

  static void p(String s) {
    System.out.println(s);
    System.out.flush();
  }

  static String t(String name) {
    return prefix + name;
  }

  /** Topic name without the run prefix (long names are shortened for readability). */
  static String rel(String topic) {
    String r = topic.startsWith(prefix) ? "~" + topic.substring(prefix.length()) : topic;
    return r.length() > 40 ? r.substring(0, 20) + "...(" + r.length() + " chars)" : r;
  }

  static Throwable unwrap(Throwable t) {
    while ((t instanceof ExecutionException || t instanceof CompletionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  static String err(Throwable t) {
    Throwable u = unwrap(t);
    String s = "error=" + u.getClass().getSimpleName();
    if (verbose) {
      s += " message=" + u.getMessage();
    }
    return s;
  }

  static <T> String outcome(KafkaFuture<T> f) {
    try {
      f.get();
      return "ok";
    } catch (Exception e) {
      return err(e);
    }
  }

  static Properties commonProps() {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.CLIENT_ID_CONFIG, "sluice-compat");
    // Bound every call so a broker that does not answer fails the scenario instead of hanging.
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
    return p;
  }

  static Admin admin;

  /** Names of our topics currently listed by the broker. */
  static Set<String> ourTopics() throws Exception {
    Set<String> names = admin.listTopics(new ListTopicsOptions().listInternal(true)).names().get();
    return names.stream().filter(n -> n.startsWith(prefix)).collect(Collectors.toCollection(TreeSet::new));
  }

  /** Polls listTopics until all of `present` are listed and none of `absent` (bounded). */
  static void await(String what, Collection<String> present, Collection<String> absent)
      throws Exception {
    long deadline = System.nanoTime() + 30_000_000_000L;
    Set<String> got = Set.of();
    while (System.nanoTime() < deadline) {
      got = ourTopics();
      if (got.containsAll(present) && Collections.disjoint(got, absent)) {
        p(what + ": settled");
        return;
      }
      Thread.sleep(100); // poll interval
    }
    p(what + ": NOT settled within deadline; listed " + got.stream().map(Compat::rel).toList());
  }

  static void printCreate(String label, CreateTopicsResult r, Collection<String> order) {
    for (String topic : order) {
      KafkaFuture<Void> f = r.values().get(topic);
      String o = outcome(f);
      StringBuilder sb = new StringBuilder(label + " " + rel(topic) + ": " + o);
      if (o.equals("ok")) {
        sb.append(" partitions=").append(value(r.numPartitions(topic)));
        sb.append(" rf=").append(value(r.replicationFactor(topic)));
      }
      p(sb.toString());
      if (o.equals("ok")) {
        try {
          Config c = r.config(topic).get();
          // Only keys we set plus a few defaults; the full list (~40 entries) is checked elsewhere.
          for (String key : List.of("cleanup.policy", "retention.ms", "max.message.bytes",
              "min.insync.replicas")) {
            ConfigEntry e = c.get(key);
            p("    config " + key + " = "
                + (e == null ? "<absent>" : e.value() + " (" + source(e) + ")"));
          }
        } catch (Exception e) {
          p("    config: " + err(e));
        }
      }
    }
  }

  /**
   * Config source: "topic" for a per-topic override, "default" otherwise. The exact default
   * source (DEFAULT_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG, ...) is shown only with --verbose.
   */
  static String source(ConfigEntry e) {
    if (verbose) {
      return e.source().toString();
    }
    return e.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG ? "topic" : "default";
  }

  static <T> String value(KafkaFuture<T> f) {
    try {
      return String.valueOf(f.get());
    } catch (Exception e) {
      return err(e);
    }
  }

  static void create(String label, NewTopic... topics) {
    create(label, new CreateTopicsOptions(), topics);
  }

  static void create(String label, CreateTopicsOptions opts, NewTopic... topics) {
    List<NewTopic> list = List.of(topics);
    CreateTopicsResult r = admin.createTopics(list, opts);
    printCreate(label, r, list.stream().map(NewTopic::name).toList());
  }

  static NewTopic nt(String name, int partitions, int rf) {
    return new NewTopic(name, partitions, (short) rf);
  }

  static NewTopic withConfig(NewTopic n, String k, String v) {
    Map<String, String> m = new HashMap<>();
    if (n.configs() != null) {
      m.putAll(n.configs());
    }
    m.put(k, v);
    return n.configs(m);
  }

  static void describe(String label, Collection<String> topics) {
    Map<String, KafkaFuture<TopicDescription>> fs =
        admin.describeTopics(topics).topicNameValues();
    for (String topic : new TreeSet<>(topics)) {
      try {
        TopicDescription d = fs.get(topic).get();
        p(label + " " + rel(d.name()) + ": internal=" + d.isInternal() + " topicId="
            + (d.topicId() == null || d.topicId().equals(Uuid.ZERO_UUID) ? "zero" : "set")
            + " partitions=" + d.partitions().size());
        for (TopicPartitionInfo pi : d.partitions()) {
          p("    p" + pi.partition() + " leader=" + id(pi.leader()) + " replicas="
              + ids(pi.replicas()) + " isr=" + ids(pi.isr()));
        }
      } catch (Exception e) {
        p(label + " " + rel(topic) + ": " + err(e));
      }
    }
  }

  static String id(Node n) {
    return n == null ? "none" : String.valueOf(n.id());
  }

  static String ids(List<Node> ns) {
    return ns.stream().map(Compat::id).toList().toString();
  }

  // ------------------------------------------------------------------------------------------
  // admin scenario

  static void admin() throws Exception {
    try (Admin a = Admin.create(commonProps())) {
      admin = a;

      DescribeClusterResult cl = a.describeCluster();
      List<String> nodes = new ArrayList<>();
      for (Node n : cl.nodes().get()) {
        nodes.add(n.id() + "@" + n.host() + ":" + n.port() + " rack=" + n.rack());
      }
      Collections.sort(nodes);
      p("cluster nodes=" + nodes);
      p("cluster controller=" + id(cl.controller().get()));
      p("cluster clusterId=" + (cl.clusterId().get() == null ? "null" : "set"));

      String ta = t("a"), tb = t("b"), tc = t("c"), tm = t("manual"), te = t("byid");
      create("create", withConfig(withConfig(nt(ta, 3, 1), "cleanup.policy", "compact"),
          "retention.ms", "3600000"));
      // Batch: defaults (-1/-1), explicit, and a duplicate of an existing topic.
      create("create-batch", new NewTopic(tb, Optional.empty(), Optional.empty()),
          nt(tc, 1, 1), nt(ta, 1, 1));
      // Manual replica assignment.
      Map<Integer, List<Integer>> assign = new TreeMap<>();
      assign.put(0, List.of(1));
      assign.put(1, List.of(1));
      create("create-manual", new NewTopic(tm, assign));
      create("create-byid", nt(te, 1, 1));

      // Error cases, one request each.
      create("err-rf-too-big", nt(t("rf3"), 1, 3));
      create("err-rf-zero", nt(t("rf0"), 1, 0));
      create("err-partitions-zero", nt(t("p0"), 0, 1));
      create("err-partitions-negative", nt(t("pneg"), -2, 1));
      create("err-config-bad-value", withConfig(nt(t("cfg1"), 1, 1), "cleanup.policy", "bogus"));
      create("err-config-not-number", withConfig(nt(t("cfg2"), 1, 1), "retention.ms", "soon"));
      create("err-config-unknown", withConfig(nt(t("cfg3"), 1, 1), "no.such.config", "1"));
      create("err-name-slash", nt(t("bad/name"), 1, 1));
      create("err-name-dot", nt(".", 1, 1));
      create("err-name-long", nt(t("x".repeat(260)), 1, 1));
      Map<Integer, List<Integer>> badAssign = new TreeMap<>();
      badAssign.put(0, List.of(7));
      create("err-manual-unknown-broker", new NewTopic(t("badassign"), badAssign));
      // Mixed batch: one good, one bad.
      create("create-mixed", nt(t("mixed-ok"), 2, 1), nt(t("mixed-bad"), 1, 5));

      // validate_only: nothing may be created.
      CreateTopicsOptions vo = new CreateTopicsOptions().validateOnly(true);
      create("validate-ok", vo, withConfig(nt(t("vo"), 2, 1), "cleanup.policy", "delete"));
      create("validate-exists", vo, nt(ta, 2, 1));
      create("validate-rf-too-big", vo, nt(t("vo-rf"), 1, 3));
      create("validate-bad-config", vo, withConfig(nt(t("vo-cfg"), 1, 1), "cleanup.policy", "x"));

      List<String> ours = List.of(ta, tb, tc, tm, te, t("mixed-ok"));
      await("await-created", ours, List.of(t("vo")));
      p("list " + ourTopics().stream().map(Compat::rel).toList());
      describe("describe", ours);
      describe("describe-missing", List.of(t("vo"), t("nope")));

      // Delete by name (one batch incl. a missing topic), then by topic id.
      List<String> del = new ArrayList<>(List.of(ta, tb, tc, tm, t("mixed-ok"), t("nope")));
      DeleteTopicsResult dr = a.deleteTopics(TopicCollection.ofTopicNames(del));
      for (String topic : del) {
        p("delete " + rel(topic) + ": " + outcome(dr.topicNameValues().get(topic)));
      }
      Uuid id = a.describeTopics(List.of(te)).topicNameValues().get(te).get().topicId();
      DeleteTopicsResult dri = a.deleteTopics(TopicCollection.ofTopicIds(List.of(id)));
      p("delete-by-id " + rel(te) + ": " + outcome(dri.topicIdValues().get(id)));
      Uuid random = Uuid.randomUuid();
      DeleteTopicsResult drr = a.deleteTopics(TopicCollection.ofTopicIds(List.of(random)));
      p("delete-by-id random: " + outcome(drr.topicIdValues().get(random)));

      await("await-deleted", List.of(), ours);
      p("list " + ourTopics().stream().map(Compat::rel).toList());
    }
  }

  // ------------------------------------------------------------------------------------------
  // autocreate scenario: Metadata requests with allow_auto_topic_creation.

  static void autocreate() throws Exception {
    String off = t("auto-off"), on = t("auto-on");
    try (Admin a = Admin.create(commonProps())) {
      admin = a;
      p("partitionsFor allow.auto.create.topics=false: " + partitionsFor(off, false));
      // Kafka creates the topic asynchronously: the first answer may still be "unknown topic",
      // so ask again (bounded) until the topic has partitions, like a producer would.
      p("partitionsFor allow.auto.create.topics=true (until non-empty): "
          + partitionsFor(on, true));
      await("await-auto-created", List.of(on), List.of());
      p("list " + ourTopics().stream().map(Compat::rel).toList());
      describe("describe", List.of(on, off));
      // A second lookup of the now existing topic must give the same answer.
      p("partitionsFor again: " + partitionsFor(on, true));
      DeleteTopicsResult dr = a.deleteTopics(List.of(on));
      p("delete " + rel(on) + ": " + outcome(dr.all()));
      await("await-deleted", List.of(), List.of(on));
    }
  }

  static String partitionsFor(String topic, boolean allowAuto) {
    Properties p = commonProps();
    p.remove(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG);
    p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
    p.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, String.valueOf(allowAuto));
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
      List<PartitionInfo> parts = c.partitionsFor(topic);
      long deadline = System.nanoTime() + 30_000_000_000L;
      while (allowAuto && parts.isEmpty() && System.nanoTime() < deadline) {
        Thread.sleep(100); // poll interval
        parts = c.partitionsFor(topic);
      }
      List<String> out = new ArrayList<>();
      for (PartitionInfo pi : parts) {
        out.add("p" + pi.partition() + "(leader=" + id(pi.leader()) + " replicas="
            + pi.replicas().length + ")");
      }
      Collections.sort(out);
      return parts.size() + " partitions " + out;
    } catch (Exception e) {
      return err(e);
    }
  }
}
