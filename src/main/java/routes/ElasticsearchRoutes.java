package routes;

import caravan.elasticsearch.IndexLanes;
import caravan.elasticsearch.RestorePlan;
import caravan.elasticsearch.SearchConnect;
import caravan.elasticsearch.SearchDump;
import caravan.elasticsearch.SearchLoad;
import caravan.session.SnapshotWriter;
import org.apache.camel.builder.RouteBuilder;

import java.util.concurrent.ExecutorService;

/**
 * The Elasticsearch/OpenSearch driver: one multielasticdump per index through camel-exec, in lanes that run
 * in parallel (caravan.elasticsearch.parallel); a free lane takes the largest index still waiting. Each index's
 * files are stored as soon as its dump is complete (the data file's content digest computed as it is sealed);
 * on restore each index is fetched and loaded on its own, aliases last, then read back and compared.
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
            .bean(SearchConnect.class, "connect");                     // auth + CA files; wait for GET /, read the version

        from("direct:elasticsearch-dump").routeId("elasticsearch-dump")
            .to("direct:elasticsearch-connect")
            .bean(SearchConnect.class, "toolVersion").to("exec:elasticdump") // for the manifest
            .bean(SearchConnect.class, "recordToolVersion")
            .bean(SnapshotWriter.class, "awaitRepository")            // the snapshot is begun: its manifest takes the indices
            .split(method(SearchDump.class, "dumpLanes"))              // indices matching --match, largest first; closed → condition or fail
                    .parallelProcessing().executorService(lanes)          // every lane ends before the session does
                .loopDoWhile(method(IndexLanes.class, "moreWork"))      // a free lane takes the next index
                    .bean(IndexLanes.class, "takeIndex")
                    .filter(body().isNotNull())
                        .doTry()
                            .to("direct:elasticsearch-dump-index")
                        .doCatch(Exception.class)
                            .bean(IndexLanes.class, "laneFailed")     // the other lanes take no new index
                        .end()
                    .end()
                .end()
            .end()
            .bean(IndexLanes.class, "rethrowLaneFailure")             // the first failure fails the session
            .split(method(SearchDump.class, "dumpTemplates")).stopOnException()
                .to("direct:store-artifact")                           // cluster templates, once
            .end()
            .bean(SearchDump.class, "dumpDone");

        from("direct:elasticsearch-dump-index").routeId("elasticsearch-dump-index")
            .bean(SearchDump.class, "dumpIndex").to("exec:multielasticdump")
            .split(method(SearchDump.class, "dumpedIndex")).stopOnException() // exit 0, every file, counts
                .to("direct:store-artifact")                           // sealed (data: digested) while other indices still dump
            .end();

        from("direct:elasticsearch-load").routeId("elasticsearch-load")
            .to("direct:elasticsearch-connect")
            .bean(RestorePlan.class, "planRestore")                    // indices/--match; existing index → fail or replace
            .split(method(RestorePlan.class, "templateObjects")).stopOnException()
                .to("direct:fetch-object")
            .end()
            .bean(SearchLoad.class, "loadTemplates")                   // templates before the indices they shape
            .split(method(SearchLoad.class, "loadLanes"))
                    .parallelProcessing().executorService(lanes)
                .loopDoWhile(method(IndexLanes.class, "moreWork"))
                    .bean(IndexLanes.class, "takeIndex")
                    .filter(body().isNotNull())
                        .doTry()
                            .to("direct:elasticsearch-load-index")
                        .doCatch(Exception.class)
                            .bean(IndexLanes.class, "laneFailed")
                        .end()
                    .end()
                .end()
            .end()
            .bean(IndexLanes.class, "rethrowLaneFailure")
            .bean(SearchLoad.class, "loadDone");

        from("direct:elasticsearch-load-index").routeId("elasticsearch-load-index")
            .split(method(SearchLoad.class, "indexObjects")).stopOnException()
                .to("direct:fetch-object")                             // this index's files, verified
            .end()
            .bean(SearchLoad.class, "replaceExisting")                 // replace=true: delete it only now
            .bean(SearchLoad.class, "loadIndex").to("exec:multielasticdump") // settings, mappings, then data
            .bean(SearchLoad.class, "loaded")
            .filter(method(SearchLoad.class, "hasAliases"))
                .bean(SearchLoad.class, "loadAliases").to("exec:multielasticdump") // aliases last
                .bean(SearchLoad.class, "loaded")
            .end()
            .bean(SearchLoad.class, "verifyIndex");                    // count and content digest equal the manifest's
    }
}
