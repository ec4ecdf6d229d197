package caravan.api;

import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Stash's cluster-scoped Task: steps (Functions) with default parameters. */
@Group("stash.appscode.com")
@Version("v1beta1")
@Kind("Task")
@Plural("tasks")
@ShortNames("task")
public class Task extends CustomResource<Task.Spec, Void> {

    public static class Spec extends Extensible {
        public List<Step> steps = new ArrayList<>();
        public List<Map<String, Object>> volumes = new ArrayList<>();
    }

    public static class Step extends Extensible {
        public String name;
        public List<Refs.Param> params = new ArrayList<>();
    }
}
