package caravan.operator;

import caravan.api.BackupConfiguration;
import caravan.api.Condition;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.builder.TemplatedRouteBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One quartz trigger per BackupConfiguration, kept level-triggered: given the object (or its deletion),
 * make the set of schedule routes match it. A new or edited schedule replaces the route, {@code paused}
 * or deletion removes it; an invalid schedule sets phase Invalid with a condition that says why.
 * Each schedule route is built from the {@code backup-schedule} route template (routes/OperatorRoutes).
 */
public final class Schedules {
    private static final Logger LOG = LoggerFactory.getLogger(Schedules.class);
    public static final String DELETED = "caravanDeleted";
    private final CamelContext camel;
    private final Cluster cluster;
    private final boolean leaderElection;
    /** route id → the Quartz expression it runs. */
    private final Map<String, String> active = new ConcurrentHashMap<>();
    /** route id → namespace and name of its BackupConfiguration. */
    private final Map<String, String[]> names = new ConcurrentHashMap<>();

    public Schedules(CamelContext camel, Cluster cluster, boolean leaderElection) {
        this.camel = camel;
        this.cluster = cluster;
        this.leaderElection = leaderElection;
    }

    public static String routeId(String namespace, String name) {
        return "schedule-" + namespace + "-" + name;
    }

    public synchronized void reconcile(Exchange exchange) throws Exception {
        BackupConfiguration seen = exchange.getIn().getBody(BackupConfiguration.class);
        String ns = seen.getMetadata().getNamespace();
        String name = seen.getMetadata().getName();
        String id = routeId(ns, name);
        BackupConfiguration bc = Boolean.TRUE.equals(exchange.getIn().getHeader(DELETED, Boolean.class))
                ? null : cluster.get(BackupConfiguration.class, ns, name);
        if (bc == null || bc.getMetadata().getDeletionTimestamp() != null) {
            remove(id, "BackupConfiguration " + ns + "/" + name + " deleted");
            return;
        }
        String where = "BackupConfiguration " + ns + "/" + name + " spec.schedule";
        if (Boolean.TRUE.equals(bc.getSpec().paused)) {
            remove(id, where + ": paused");
            writeStatus(bc, "Ready", true, "Paused", "paused: no backup is scheduled until spec.paused is false");
            return;
        }
        String cron;
        try {
            cron = CronSchedule.toQuartz(bc.getSpec().schedule);
        } catch (IllegalArgumentException e) {
            remove(id, where + " invalid");
            writeStatus(bc, "Invalid", false, "InvalidSchedule", where + ": " + e.getMessage());
            return;
        }
        if (!cron.equals(active.get(id))) {
            removeRoute(id);
            TemplatedRouteBuilder.builder(camel, "backup-schedule")
                    .routeId(id)
                    .parameter("uri", (leaderElection ? "master:caravan:" : "") + "quartz:caravan-" + ns + "/" + name
                            + "?cron=" + cron.replace(' ', '+') + "&stateful=true")
                    .parameter("namespace", ns)
                    .parameter("name", name)
                    .add();
            active.put(id, cron);
            names.put(id, new String[] {ns, name});
            interval(ns, name, CronSchedule.intervalSeconds(cron));
            LOG.info("{}: scheduled \"{}\" (quartz {})", where, bc.getSpec().schedule, cron);
        }
        writeStatus(bc, "Ready", true, "ScheduleValid", "scheduled: " + bc.getSpec().schedule);
    }

    /** Removes the schedules of BackupConfigurations that no longer exist (found by a full resync). */
    public synchronized void retainOnly(Set<String> routeIds) throws Exception {
        for (String id : new ArrayList<>(active.keySet())) {
            if (!routeIds.contains(id)) {
                remove(id, "its BackupConfiguration is gone");
            }
        }
    }

    public Set<String> active() {
        return Set.copyOf(active.keySet());
    }

    private void interval(String ns, String name, Double seconds) {
        caravan.metrics.MetricsStore m = camel.getRegistry().lookupByNameAndType(caravan.metrics.MetricsStore.BEAN,
                caravan.metrics.MetricsStore.class);
        if (m != null) {
            m.scheduleInterval(ns, name, seconds);
        }
    }

    private void remove(String id, String why) throws Exception {
        if (id.startsWith("schedule-")) {
            String[] nsName = names.getOrDefault(id, new String[] {null, null});
            if (nsName[0] != null) {
                interval(nsName[0], nsName[1], null);
            }
        }
        if (active.remove(id) != null) {
            LOG.info("schedule {} removed: {}", id, why);
        }
        removeRoute(id);
    }

    private void removeRoute(String id) throws Exception {
        if (camel.getRoute(id) != null) {
            camel.getRouteController().stopRoute(id);
            camel.removeRoute(id);
        }
    }

    /** Writes phase and the ValidationPassed condition, only when they change (no update loops). */
    private void writeStatus(BackupConfiguration bc, String phase, boolean valid, String reason, String message) {
        BackupConfiguration.Status st = bc.getStatus();
        Long generation = bc.getMetadata().getGeneration();
        if (st != null && phase.equals(st.phase) && Objects.equals(generation, st.observedGeneration)
                && st.conditions.stream().anyMatch(c -> c.type.equals("ValidationPassed") && Objects.equals(c.message, message))) {
            return;
        }
        cluster.updateStatus(BackupConfiguration.class, bc.getMetadata().getNamespace(), bc.getMetadata().getName(), latest -> {
            BackupConfiguration.Status s = latest.getStatus() == null ? new BackupConfiguration.Status() : latest.getStatus();
            s.phase = phase;
            s.observedGeneration = latest.getMetadata().getGeneration();
            s.conditions.removeIf(c -> c.type.equals("ValidationPassed"));
            Condition c = new Condition("ValidationPassed", valid, reason, message, Instant.now().toString());
            c.observedGeneration = latest.getMetadata().getGeneration();
            s.conditions.add(c);
            latest.setStatus(s);
        });
    }
}
