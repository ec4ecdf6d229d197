package caravan.test.esroot;

import org.elasticsearch.Build;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.cluster.metadata.IndexNameExpressionResolver;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.common.io.stream.NamedWriteableRegistry;
import org.elasticsearch.common.settings.ClusterSettings;
import org.elasticsearch.common.settings.IndexScopedSettings;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.settings.SettingsFilter;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestController;
import org.elasticsearch.rest.RestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;

import java.util.Collection;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Test-only: Elasticsearch 8's integ-test-zip lacks the rest-root module, so {@code GET /} answers 405 and
 * elasticdump (which reads the version there) cannot start. This plugin serves {@code GET /} and
 * {@code HEAD /} as rest-root does. Compiled by the test set-up against the distribution's own jars.
 */
public class RootPlugin extends Plugin implements ActionPlugin {
    @Override
    public Collection<RestHandler> getRestHandlers(Settings settings, NamedWriteableRegistry registry,
            RestController controller, ClusterSettings clusterSettings, IndexScopedSettings indexScopedSettings,
            SettingsFilter settingsFilter, IndexNameExpressionResolver resolver, Supplier<DiscoveryNodes> nodes,
            Predicate<NodeFeature> features) {
        String clusterName = settings.get("cluster.name", "elasticsearch");
        String nodeName = settings.get("node.name", "node");
        return List.of(new BaseRestHandler() {
            @Override
            public String getName() {
                return "caravan_test_root";
            }

            @Override
            public List<Route> routes() {
                return List.of(new Route(RestRequest.Method.GET, "/"), new Route(RestRequest.Method.HEAD, "/"));
            }

            @Override
            protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
                Build b = Build.current();
                String json = "{\"name\":\"" + nodeName + "\",\"cluster_name\":\"" + clusterName + "\","
                        + "\"version\":{\"number\":\"" + b.version() + "\",\"build_flavor\":\"" + b.flavor() + "\","
                        + "\"build_hash\":\"" + b.hash() + "\",\"build_date\":\"" + b.date() + "\","
                        + "\"minimum_wire_compatibility_version\":\"" + b.minWireCompatVersion() + "\","
                        + "\"minimum_index_compatibility_version\":\"" + b.minIndexCompatVersion() + "\"},"
                        + "\"tagline\":\"You Know, for Search\"}";
                return channel -> channel.sendResponse(new RestResponse(RestStatus.OK, "application/json", json));
            }
        });
    }
}
