package caravan.operator;

import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.RestoreSession;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import org.apache.camel.CamelContext;
import org.apache.camel.ProducerTemplate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Feeds the operator's routes from fabric8 informers (list + watch, re-listing after a broken watch or a
 * 410, across all namespaces or a list of them), which camel-kubernetes' custom-resource consumer cannot
 * do (../shared/reference/camel.md §1.3). Every add, update and delete goes to a seda queue; the handlers
 * behind the queues are idempotent, and {@link #resync} replays the full state periodically and when this
 * replica becomes leader, so nothing created while the operator was down is missed.
 */
public final class Watches {
    private static final Logger LOG = LoggerFactory.getLogger(Watches.class);
    public static final String CONFIGS = "seda:backupconfigurations";
    public static final String BACKUPS = "seda:backupsessions";
    public static final String RESTORES = "seda:restoresessions";
    public static final String REPOSITORIES = "seda:repositories";

    private final CamelContext camel;
    private final Cluster cluster;
    private final Schedules schedules;
    private final Duration informerResync;
    private final List<SharedIndexInformer<?>> informers = new ArrayList<>();
    private ProducerTemplate template;

    public Watches(CamelContext camel, Cluster cluster, Schedules schedules, Duration informerResync) {
        this.camel = camel;
        this.cluster = cluster;
        this.schedules = schedules;
        this.informerResync = informerResync;
    }

    public synchronized void start() {
        if (!informers.isEmpty()) {
            return;
        }
        template = camel.createProducerTemplate();
        inform(BackupConfiguration.class, CONFIGS);
        inform(BackupSession.class, BACKUPS);
        inform(RestoreSession.class, RESTORES);
        inform(caravan.api.Repository.class, REPOSITORIES);
        LOG.info("watching BackupConfigurations, BackupSessions, RestoreSessions and Repositories in {}",
                cluster.namespaces().isEmpty() ? "all namespaces" : cluster.namespaces());
    }

    private <T extends HasMetadata> void inform(Class<T> type, String queue) {
        ResourceEventHandler<T> handler = new ResourceEventHandler<>() {
            @Override
            public void onAdd(T obj) {
                send(queue, obj, false);
            }

            @Override
            public void onUpdate(T oldObj, T newObj) {
                send(queue, newObj, false);
            }

            @Override
            public void onDelete(T obj, boolean deletedFinalStateUnknown) {
                if (type == BackupConfiguration.class) {
                    send(queue, obj, true);
                }
            }
        };
        if (cluster.namespaces().isEmpty()) {
            informers.add(cluster.api(type).inAnyNamespace().inform(handler, informerResync.toMillis()));
        } else {
            for (String ns : cluster.namespaces()) {
                informers.add(cluster.api(type).inNamespace(ns).inform(handler, informerResync.toMillis()));
            }
        }
    }

    private void send(String queue, Object body, boolean deleted) {
        try {
            // a replica that is not the leader has no session consumers: the event is dropped rather than queued
            // (the resync on becoming leader replays the full state)
            template.sendBodyAndHeaders(queue + "?discardIfNoConsumers=true", body, Map.of(Schedules.DELETED, deleted));
        } catch (RuntimeException e) {
            LOG.debug("not queued to {}: {}", queue, e.getMessage());
        }
    }

    /** Replays the full state into the queues, and drops schedules whose BackupConfiguration is gone. */
    public void resync() throws Exception {
        if (template == null) {
            start();
        }
        List<BackupConfiguration> configs = cluster.list(BackupConfiguration.class);
        configs.forEach(bc -> send(CONFIGS, bc, false));
        Set<String> wanted = configs.stream()
                .map(bc -> Schedules.routeId(bc.getMetadata().getNamespace(), bc.getMetadata().getName()))
                .collect(Collectors.toSet());
        schedules.retainOnly(wanted);
        cluster.list(BackupSession.class).stream()
                .filter(s -> s.getStatus() == null || s.getStatus().phase == null || BackupSession.PENDING.equals(s.getStatus().phase))
                .forEach(s -> send(BACKUPS, s, false));
        cluster.list(RestoreSession.class).stream()
                .filter(s -> s.getStatus() == null || s.getStatus().phase == null || "Pending".equals(s.getStatus().phase))
                .forEach(s -> send(RESTORES, s, false));
        cluster.list(caravan.api.Repository.class).forEach(r -> send(REPOSITORIES, r, false));
        LOG.debug("resync: {} BackupConfigurations", configs.size());
    }

    /** True when every informer is running and its watch is open. */
    public synchronized boolean watching() {
        return !informers.isEmpty() && informers.stream().allMatch(i -> i.isRunning() && i.isWatching());
    }

    public synchronized void stop() {
        informers.forEach(SharedIndexInformer::close);
        informers.clear();
    }
}
