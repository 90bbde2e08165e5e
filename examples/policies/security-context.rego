# A widely copied example policy (Magalix), as published except for its closing
# braces, which were lost in publication and are restored here. Rego v0 syntax.
#
# Caveat kept from the original: for kinds it does not list, controller_spec is
# undefined, so the first rule fires. podsec shows policies only objects that carry
# a pod (unless --policy-scope all), which keeps that caveat from firing on Services.
package magalix.advisor.podSecurity.securityContext

violation[result] {
  not controller_spec.securityContext
  result = {"issue detected": true, "msg": "The securityContext for your spec has not been set."}
}

violation[result] {
  containers := controller_spec.containers[_]
  not containers.securityContext
  result = {"issue detected": true, "msg": "The securityContext for your containers have not been set."}
}

controller_spec = input.spec.template.spec {
  contains_kind(input.kind, {"StatefulSet", "DaemonSet", "Deployment", "Job"})
} else = input.spec {
  input.kind == "Pod"
} else = input.spec.jobTemplate.spec.template.spec {
  input.kind == "CronJob"
}

contains_kind(kind, kinds) {
  kinds[_] = kind
}
