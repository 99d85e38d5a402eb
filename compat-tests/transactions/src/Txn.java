// Transaction helper program for compat-tests/transactions (Kafka 4.3.1 clients).
//
//   java -cp 'java/work/lib/*:transactions/work/classes' Txn <mode> <bootstrap> ARGS...
//
// Modes (every mode prints a deterministic, line-oriented transcript on stdout):
//   create-topic BOOT TOPIC PARTITIONS         create a topic, poll until its metadata is visible
//   produce      BOOT TOPIC PARTITIONS COUNT   COUNT records with an idempotent producer, record i
//                to partition i % PARTITIONS, key = value = "i"
//   pattern      BOOT TOPIC TXNID              three transactions over partitions 0 and 1 of
//                TOPIC: a0..a5 committed, b0..b5 aborted, c0..c5 committed (then sendOffsets
//                of a committed transaction to group TXNID-g, as a consume-transform-produce
//                application does)
//   hang         BOOT TOPIC TXNID              begin a transaction, send 3 records to partition
//                0, flush, and halt the JVM without ending it (an open transaction that its
//                coordinator later aborts on timeout or on the next InitProducerId)
//   init         BOOT TXNID                    a new producer's initTransactions (fences and
//                aborts what an earlier producer of the id left open), then close
//   fence        BOOT TOPIC TXNID              two producers with one transactional id: the
//                second's initTransactions fences the first, whose commit then fails
//   group-offsets BOOT GROUP TOPIC             the group's committed offsets (topic name masked)
//   read         BOOT TOPIC ISOLATION          every record of TOPIC (read_committed or
//                read_uncommitted) up to the end offsets, sorted: "partition value"
//   verify-copy  BOOT INPUT OUTPUT             read_committed: OUTPUT holds every value of INPUT
//                exactly once (the copier's exactly-once check); prints counts of missing,
//                duplicate and foreign values
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class Txn {
    public static void main(String[] args) throws Exception {
        String mode = args[0];
        String boot = args[1];
        switch (mode) {
            case "create-topic" -> createTopic(boot, args[2], Integer.parseInt(args[3]));
            case "produce" -> produce(boot, args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]));
            case "pattern" -> pattern(boot, args[2], args[3]);
            case "hang" -> hang(boot, args[2], args[3]);
            case "fence" -> fence(boot, args[2], args[3]);
            case "init" -> init(boot, args[2]);
            case "group-offsets" -> groupOffsets(boot, args[2], args[3]);
            case "read" -> read(boot, args[2], args[3]);
            case "verify-copy" -> verifyCopy(boot, args[2], args[3]);
            default -> throw new IllegalArgumentException("unknown mode " + mode);
        }
    }

    static Properties producerProps(String boot, String txnId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        if (txnId != null) {
            p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        }
        return p;
    }

    static KafkaConsumer<String, String> consumer(String boot, String isolation) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        return new KafkaConsumer<>(p);
    }

    static void createTopic(String boot, String topic, int partitions) throws Exception {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        try (Admin admin = Admin.create(p)) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
            long deadline = System.currentTimeMillis() + 30_000;
            while (System.currentTimeMillis() < deadline) {
                try {
                    var d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
                    if (d.partitions().size() == partitions
                            && d.partitions().stream().allMatch(x -> x.leader() != null)) {
                        System.out.println("created " + topic + " with " + partitions + " partitions");
                        return;
                    }
                } catch (Exception e) {
                    // not visible yet
                }
                Thread.sleep(100); // poll interval while the topic's metadata propagates
            }
            System.out.println("topic " + topic + " not visible within 30 s");
        }
    }

    static void produce(String boot, String topic, int partitions, int count) throws Exception {
        try (KafkaProducer<String, String> prod = new KafkaProducer<>(producerProps(boot, null))) {
            for (int i = 0; i < count; i++) {
                String v = Integer.toString(i);
                prod.send(new ProducerRecord<>(topic, i % partitions, v, v));
            }
            prod.flush();
        }
        System.out.println("produced " + count);
    }

    static void sendAll(KafkaProducer<String, String> prod, String topic, String prefix) {
        for (int i = 0; i < 6; i++) {
            prod.send(new ProducerRecord<>(topic, i % 2, prefix + i, prefix + i));
        }
    }

    static void pattern(String boot, String topic, String txnId) throws Exception {
        try (KafkaProducer<String, String> prod = new KafkaProducer<>(producerProps(boot, txnId))) {
            prod.initTransactions();
            System.out.println("initTransactions ok");
            prod.beginTransaction();
            sendAll(prod, topic, "a");
            prod.commitTransaction();
            System.out.println("a: committed");
            prod.beginTransaction();
            sendAll(prod, topic, "b");
            prod.flush();
            prod.abortTransaction();
            System.out.println("b: aborted");
            prod.beginTransaction();
            sendAll(prod, topic, "c");
            Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
            offsets.put(new TopicPartition(topic, 0), new OffsetAndMetadata(7, "from-txn"));
            prod.sendOffsetsToTransaction(offsets, new ConsumerGroupMetadata(txnId + "-g"));
            prod.commitTransaction();
            System.out.println("c: committed with offsets");
        }
        groupOffsets(boot, txnId + "-g", topic);
    }

    static void groupOffsets(String boot, String group, String topic) throws Exception {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        try (Admin admin = Admin.create(p)) {
            var committed = admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata().get();
            for (var e : new TreeMap<>(committed.entrySet().stream().collect(Collectors.toMap(
                    x -> x.getKey().toString(), Map.Entry::getValue))).entrySet()) {
                System.out.println("group offset " + e.getKey().replace(topic, "TOPIC") + " = "
                        + e.getValue().offset() + " " + e.getValue().metadata());
            }
        }
    }

    static void hang(String boot, String topic, String txnId) throws Exception {
        KafkaProducer<String, String> prod = new KafkaProducer<>(producerProps(boot, txnId));
        prod.initTransactions();
        prod.beginTransaction();
        for (int i = 0; i < 3; i++) {
            prod.send(new ProducerRecord<>(topic, 0, "h" + i, "h" + i));
        }
        prod.flush();
        System.out.println("open transaction with 3 records in partition 0");
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }

    static void init(String boot, String txnId) {
        try (KafkaProducer<String, String> prod = new KafkaProducer<>(producerProps(boot, txnId))) {
            prod.initTransactions();
            System.out.println("initTransactions ok");
        }
    }

    static void fence(String boot, String topic, String txnId) throws Exception {
        try (KafkaProducer<String, String> first = new KafkaProducer<>(producerProps(boot, txnId))) {
            first.initTransactions();
            first.beginTransaction();
            first.send(new ProducerRecord<>(topic, 0, "zombie", "zombie")).get();
            System.out.println("first producer: transaction open");
            try (KafkaProducer<String, String> second = new KafkaProducer<>(producerProps(boot, txnId))) {
                second.initTransactions();
                System.out.println("second producer: initTransactions ok");
                try {
                    first.commitTransaction();
                    System.out.println("first producer: commit succeeded (unexpected)");
                } catch (KafkaException e) {
                    System.out.println("first producer: commit failed with " + e.getClass().getSimpleName());
                }
                second.beginTransaction();
                second.send(new ProducerRecord<>(topic, 0, "winner", "winner"));
                second.commitTransaction();
                System.out.println("second producer: committed");
            }
        }
    }

    /** Every record of the topic up to its end offsets at the start. */
    static List<ConsumerRecord<String, String>> readAll(String boot, String topic, String isolation) {
        List<ConsumerRecord<String, String>> out = new ArrayList<>();
        try (KafkaConsumer<String, String> c = consumer(boot, isolation)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo pi : c.partitionsFor(topic)) {
                tps.add(new TopicPartition(topic, pi.partition()));
            }
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            long deadline = System.currentTimeMillis() + 120_000;
            while (System.currentTimeMillis() < deadline) {
                boolean done = tps.stream().allMatch(tp -> c.position(tp) >= end.get(tp));
                if (done) {
                    break;
                }
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    out.add(r);
                }
            }
        }
        return out;
    }

    static void read(String boot, String topic, String isolation) {
        List<String> lines = readAll(boot, topic, isolation).stream()
                .map(r -> r.partition() + " " + r.value())
                .sorted()
                .collect(Collectors.toList());
        System.out.println(isolation + ": " + lines.size() + " records");
        lines.forEach(System.out::println);
    }

    static void verifyCopy(String boot, String input, String output) {
        Map<String, Integer> want = new HashMap<>();
        for (ConsumerRecord<String, String> r : readAll(boot, input, "read_committed")) {
            want.merge(r.value(), 1, Integer::sum);
        }
        Map<String, Integer> got = new HashMap<>();
        for (ConsumerRecord<String, String> r : readAll(boot, output, "read_committed")) {
            got.merge(r.value(), 1, Integer::sum);
        }
        int missing = 0;
        int duplicates = 0;
        int foreign = 0;
        for (var e : want.entrySet()) {
            int n = got.getOrDefault(e.getKey(), 0);
            if (n == 0) {
                missing++;
            } else if (n > 1) {
                duplicates += n - 1;
            }
        }
        for (String k : got.keySet()) {
            if (!want.containsKey(k)) {
                foreign++;
            }
        }
        System.out.println("input values: " + want.size());
        System.out.println("output (read_committed): missing " + missing + ", duplicates " + duplicates
                + ", not from the input " + foreign);
        List<String> missingSample = new ArrayList<>();
        for (String k : want.keySet()) {
            if (!got.containsKey(k) && missingSample.size() < 5) {
                missingSample.add(k);
            }
        }
        Collections.sort(missingSample);
        if (!missingSample.isEmpty()) {
            System.err.println("missing, e.g.: " + missingSample);
        }
    }
}
