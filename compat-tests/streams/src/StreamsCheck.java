// Kafka Streams helper program for compat-tests/streams (Kafka Streams 4.3.1).
//
//   java -cp 'streams/work/lib/*:streams/work/classes' StreamsCheck <mode> <bootstrap> ARGS...
//
// Modes (deterministic transcripts on stdout):
//   produce  BOOT TOPIC FILE BASE_TS STEP_MS   every line of FILE as a record value (no key),
//            line i with CreateTime BASE_TS + i * STEP_MS, to partition 0 (idempotent, acks=all)
//   counts   BOOT TOPIC EXPECTED_FILE TIMEOUT_S   read TOPIC (String keys, Long values) with
//            read_committed until the last value of every key equals EXPECTED_FILE's ("word n"
//            lines) or TIMEOUT_S pass; prints "word n" sorted, and whether it matched
//   windowed BOOT APP_ID INPUT OUTPUT STATE_DIR EXPECTED_FILE TIMEOUT_S
//            runs a windowed topology with exactly_once_v2: records of INPUT ("word" values with
//            event times) grouped by value (a repartition topic) and counted in tumbling
//            1-minute windows (a windowed changelog topic); "<word>@<window start>" -> count to
//            OUTPUT; stops once OUTPUT matches EXPECTED_FILE (or TIMEOUT_S pass)
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;

public class StreamsCheck {
    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "produce" -> produce(args[1], args[2], Path.of(args[3]), Long.parseLong(args[4]),
                    Long.parseLong(args[5]));
            case "counts" -> counts(args[1], args[2], Path.of(args[3]), Integer.parseInt(args[4]));
            case "windowed" -> windowed(args[1], args[2], args[3], args[4], args[5], Path.of(args[6]),
                    Integer.parseInt(args[7]));
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
    }

    static void produce(String boot, String topic, Path file, long baseTs, long stepMs) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        List<String> lines = Files.readAllLines(file);
        try (KafkaProducer<String, String> prod = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < lines.size(); i++) {
                prod.send(new ProducerRecord<>(topic, 0, baseTs + i * stepMs, null, lines.get(i)));
            }
            prod.flush();
        }
        System.out.println("produced " + lines.size() + " records to " + topic.replaceAll("^c-[0-9]+-", "c-RUNID-"));
    }

    static Map<String, String> expected(Path file) throws Exception {
        Map<String, String> m = new TreeMap<>();
        for (String line : Files.readAllLines(file)) {
            String[] kv = line.trim().split(" ");
            if (kv.length == 2) {
                m.put(kv[0], kv[1]);
            }
        }
        return m;
    }

    /** The last value per key of TOPIC (read_committed), read up to its end offsets. */
    static Map<String, String> lastValues(String boot, String topic) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        Map<String, String> last = new TreeMap<>();
        try (KafkaConsumer<String, Long> c = new KafkaConsumer<>(p, new StringDeserializer(), new LongDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo pi : c.partitionsFor(topic)) {
                tps.add(new TopicPartition(topic, pi.partition()));
            }
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            long deadline = System.currentTimeMillis() + 60_000;
            while (System.currentTimeMillis() < deadline
                    && !tps.stream().allMatch(tp -> c.position(tp) >= end.get(tp))) {
                for (ConsumerRecord<String, Long> r : c.poll(Duration.ofMillis(200))) {
                    last.put(r.key(), String.valueOf(r.value()));
                }
            }
        }
        return last;
    }

    /** Polls (bounded) until TOPIC's last values equal the expected ones; returns what it saw. */
    static Map<String, String> awaitCounts(String boot, String topic, Map<String, String> want, int timeoutS)
            throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutS * 1000L;
        Map<String, String> got = lastValues(boot, topic);
        while (!got.equals(want) && System.currentTimeMillis() < deadline) {
            Thread.sleep(500); // poll interval while the application commits
            got = lastValues(boot, topic);
        }
        return got;
    }

    static void print(Map<String, String> got, Map<String, String> want) {
        System.out.println("output (read_committed), last count per key: " + got.size() + " keys");
        got.forEach((k, v) -> System.out.println("  " + k + " " + v));
        System.out.println("equals the expected counts: " + (got.equals(want) ? "yes" : "NO"));
    }

    static void counts(String boot, String topic, Path expectedFile, int timeoutS) throws Exception {
        Map<String, String> want = expected(expectedFile);
        print(awaitCounts(boot, topic, want, timeoutS), want);
    }

    static void windowed(String boot, String appId, String input, String output, String stateDir,
            Path expectedFile, int timeoutS) throws Exception {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 200);
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        StreamsBuilder b = new StreamsBuilder();
        b.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
                .groupBy((k, v) -> v, Grouped.with("by-word", Serdes.String(), Serdes.String()))
                .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofMinutes(1)))
                .count()
                .toStream((w, n) -> w.key() + "@" + w.window().start())
                .to(output, Produced.with(Serdes.String(), Serdes.Long()));
        Map<String, String> want = expected(expectedFile);
        try (KafkaStreams streams = new KafkaStreams(b.build(), p)) {
            streams.start();
            print(awaitCounts(boot, output, want, timeoutS), want);
        }
        System.out.println("application closed");
    }
}
