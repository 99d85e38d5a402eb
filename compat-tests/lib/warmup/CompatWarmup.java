import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Loads the Kafka client classes that the harness's tools and programs use — admin client,
 * producer, consumer, their network and protocol layers — against an address where no broker
 * listens, and exits. lib/common.sh (java_cds) runs it once per jar folder with
 * -XX:ArchiveClassesAtExit so that later JVMs on that folder map these classes from a
 * class-data-sharing archive instead of loading them from the jars. Every call is expected to
 * fail (time out); nothing it does is checked.
 */
public class CompatWarmup {
    public static void main(String[] args) {
        Properties p = new Properties();
        p.put("bootstrap.servers", "127.0.0.1:9"); // the discard port: nothing listens
        p.put("request.timeout.ms", "500");
        p.put("default.api.timeout.ms", "1000");
        p.put("max.block.ms", "500");
        p.put("reconnect.backoff.max.ms", "100");
        try (Admin admin = Admin.create(p)) {
            admin.listTopics().names().get();
        } catch (Exception expected) {
            // no broker: the classes are loaded all the same
        }
        Properties pp = (Properties) p.clone();
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
            producer.send(new ProducerRecord<>("warmup", "k", "v")).get();
        } catch (Exception expected) {
            // as above
        }
        Properties cp = (Properties) p.clone();
        cp.put("group.id", "warmup");
        cp.put("key.deserializer", StringDeserializer.class.getName());
        cp.put("value.deserializer", StringDeserializer.class.getName());
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp)) {
            consumer.subscribe(List.of("warmup"));
            consumer.poll(Duration.ofMillis(500));
        } catch (Exception expected) {
            // as above
        }
        System.exit(0);
    }
}
