package caravan.api;

import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

import java.util.ArrayList;
import java.util.List;

/** Stash's cluster-scoped Function: a container step of a Task. Caravan runs its own drivers instead. */
@Group("stash.appscode.com")
@Version("v1beta1")
@Kind("Function")
@Plural("functions")
@ShortNames("fn")
public class Function extends CustomResource<Function.Spec, Void> {

    public static class Spec extends Extensible {
        public String image;
        public List<String> command = new ArrayList<>();
        public List<String> args = new ArrayList<>();
        public String workingDir;
    }
}
