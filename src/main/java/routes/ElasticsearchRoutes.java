package routes;

import caravan.elasticsearch.ElasticsearchSteps;
import org.apache.camel.builder.RouteBuilder;

import java.util.concurrent.ExecutorService;

/**
 * The Elasticsearch/OpenSearch driver: one multielasticdump per index through camel-exec, in lanes that run
 * in parallel (caravan.elasticsearch.parallel); a free lane takes the largest index still waiting. Each index's files are stored as soon as
 * its dump is complete; on restore each index is fetched and loaded on its own, aliases last.
 */
public class ElasticsearchRoutes extends RouteBuilder {
    @Override
    public void configure() throws Exception {
        // failures go back to the session route, which reports them (status, one log line); no error handler
        // here, or Camel logs its own multi-line dump of each one
        errorHandler(noErrorHandler());
        int parallel = Integer.parseInt(getContext().resolvePropertyPlaceholders("{{caravan.elasticsearch.parallel}}"));
        ExecutorService lanes = getContext().getExecutorServiceManager()
                .newFixedThreadPool(this, "caravan-elasticsearch", parallel);

        from("direct:elasticsearch-connect").routeId("elasticsearch-connect")
            .bean(ElasticsearchSteps.class, "connect");                // auth + CA files; wait for GET /, read the version

        from("direct:elasticsearch-dump").routeId("elasticsearch-dump")
            .to("direct:elasticsearch-connect")
            .bean(ElasticsearchSteps.class, "toolVersion").to("exec:elasticdump") // for the manifest
            .bean(ElasticsearchSteps.class, "recordToolVersion")
            .split(method(ElasticsearchSteps.class, "dumpLanes"))     // indices matching --match, largest first
                    .parallelProcessing().executorService(lanes)          // every lane ends before the session does
                .loopDoWhile(method(ElasticsearchSteps.class, "moreWork"))  // a free lane takes the next index
                    .bean(ElasticsearchSteps.class, "takeIndex")
                    .filter(body().isNotNull())
                        .doTry()
                            .to("direct:elasticsearch-dump-index")
                        .doCatch(Exception.class)
                            .bean(ElasticsearchSteps.class, "laneFailed") // the other lanes take no new index
                        .end()
                    .end()
                .end()
            .end()
            .bean(ElasticsearchSteps.class, "rethrowLaneFailure")     // the first failure fails the session
            .split(method(ElasticsearchSteps.class, "dumpTemplates")).stopOnException()
                .to("direct:store-artifact")                           // cluster templates, once
            .end()
            .bean(ElasticsearchSteps.class, "dumpDone");

        from("direct:elasticsearch-dump-index").routeId("elasticsearch-dump-index")
            .bean(ElasticsearchSteps.class, "dumpIndex").to("exec:multielasticdump")
            .split(method(ElasticsearchSteps.class, "dumpedIndex")).stopOnException() // exit 0, every file, counts
                .to("direct:store-artifact")                           // stored while other indices still dump
            .end();

        from("direct:elasticsearch-load").routeId("elasticsearch-load")
            .to("direct:elasticsearch-connect")
            .bean(ElasticsearchSteps.class, "planRestore")             // indices/--match; existing index → fail or replace
            .split(method(ElasticsearchSteps.class, "templateObjects")).stopOnException()
                .to("direct:fetch-object")
            .end()
            .bean(ElasticsearchSteps.class, "loadTemplates")           // templates before the indices they shape
            .split(method(ElasticsearchSteps.class, "loadLanes"))
                    .parallelProcessing().executorService(lanes)
                .loopDoWhile(method(ElasticsearchSteps.class, "moreWork"))
                    .bean(ElasticsearchSteps.class, "takeIndex")
                    .filter(body().isNotNull())
                        .doTry()
                            .to("direct:elasticsearch-load-index")
                        .doCatch(Exception.class)
                            .bean(ElasticsearchSteps.class, "laneFailed")
                        .end()
                    .end()
                .end()
            .end()
            .bean(ElasticsearchSteps.class, "rethrowLaneFailure")
            .bean(ElasticsearchSteps.class, "loadDone");

        from("direct:elasticsearch-load-index").routeId("elasticsearch-load-index")
            .split(method(ElasticsearchSteps.class, "indexObjects")).stopOnException()
                .to("direct:fetch-object")                             // this index's files, verified
            .end()
            .bean(ElasticsearchSteps.class, "replaceExisting")        // replace=true: delete it only now
            .bean(ElasticsearchSteps.class, "loadIndex").to("exec:multielasticdump") // settings, mappings, then data
            .bean(ElasticsearchSteps.class, "loaded")
            .filter(method(ElasticsearchSteps.class, "hasAliases"))
                .bean(ElasticsearchSteps.class, "loadAliases").to("exec:multielasticdump") // aliases last
                .bean(ElasticsearchSteps.class, "loaded")
            .end()
            .bean(ElasticsearchSteps.class, "verifyIndex");            // document count equals the manifest's
    }
}
