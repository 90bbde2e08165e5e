// The API server's own ValidatingAdmissionPolicy evaluation (k8s.io/apiserver's validating
// policy plugin) as an oracle for podsec's offline evaluator (tests/vap/test_apiserver_code.py).
//
// Each stdin line is a JSON request {"policy", "object", "oldObject", "namespace", "params",
// "operation", "resource", "userInfo"}; each stdout line is the validator's answer
// {"decisions": [{action, evaluation, message, reason}], "annotations": [{key, action, value, error}]}.
// Policies are compiled as the API server compiles a new object's expressions (the CEL of
// the default compatibility version), the way the plugin's compilePolicy does.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/cel/environment"
)

type request struct {
	Policy    json.RawMessage        `json:"policy"`
	Object    map[string]interface{} `json:"object"`
	OldObject map[string]interface{} `json:"oldObject"`
	Namespace map[string]interface{} `json:"namespace"`
	Params    map[string]interface{} `json:"params"`
	Operation string                 `json:"operation"`
	Resource  string                 `json:"resource"`
	UserInfo  user.DefaultInfo       `json:"userInfo"`
}

type decision struct {
	Action     string `json:"action"`
	Evaluation string `json:"evaluation"`
	Message    string `json:"message"`
	Reason     string `json:"reason"`
}

type annotation struct {
	Key    string `json:"key"`
	Action string `json:"action"`
	Value  string `json:"value"`
	Error  string `json:"error"`
}

type answer struct {
	Decisions   []decision   `json:"decisions"`
	Annotations []annotation `json:"annotations"`
	// Variables the API server would refuse when the policy is created (the plugin compiles
	// them lazily, so an evaluation that never reaches one would not tell).
	CompileErrors []string `json:"compileErrors"`
	Error         string   `json:"error,omitempty"`
}

type compiled struct {
	validator validating.Validator
	errors    []string
}

var envSet = environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion())

// compile follows validating.compilePolicy, with the expressions of a new object.
func compile(p *admissionregistrationv1.ValidatingAdmissionPolicy) compiled {
	hasParam := p.Spec.ParamKind != nil
	optionalVars := plugincel.OptionalVariableDeclarations{HasParams: hasParam, HasAuthorizer: true}
	messageVars := plugincel.OptionalVariableDeclarations{HasParams: hasParam, HasAuthorizer: false}
	mode := environment.NewExpressions
	compiler, err := plugincel.NewCompositedCompiler(envSet)
	if err != nil {
		return compiled{validating.NewValidator(nil, nil, nil, nil, p.Spec.FailurePolicy, err), nil}
	}
	errors := []string{}
	for _, v := range p.Spec.Variables {
		result := compiler.CompileAndStoreVariable(&validating.Variable{Name: v.Name, Expression: v.Expression}, optionalVars, mode)
		if result.Error != nil {
			errors = append(errors, fmt.Sprintf("%s: %v", v.Name, result.Error))
		}
	}
	var matcher matchconditions.Matcher
	if len(p.Spec.MatchConditions) > 0 {
		conditions := make([]plugincel.ExpressionAccessor, 0, len(p.Spec.MatchConditions))
		for i := range p.Spec.MatchConditions {
			conditions = append(conditions, (*matchconditions.MatchCondition)(&p.Spec.MatchConditions[i]))
		}
		matcher = matchconditions.NewMatcher(compiler.CompileCondition(conditions, optionalVars, mode), p.Spec.FailurePolicy, "policy", "validate", p.Name)
	}
	validations := make([]plugincel.ExpressionAccessor, 0, len(p.Spec.Validations))
	messages := make([]plugincel.ExpressionAccessor, 0, len(p.Spec.Validations))
	for _, v := range p.Spec.Validations {
		validations = append(validations, &validating.ValidationCondition{Expression: v.Expression, Message: v.Message, Reason: v.Reason})
		messages = append(messages, &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression})
	}
	annotations := make([]plugincel.ExpressionAccessor, 0, len(p.Spec.AuditAnnotations))
	for _, a := range p.Spec.AuditAnnotations {
		annotations = append(annotations, &validating.AuditAnnotationCondition{Key: a.Key, ValueExpression: a.ValueExpression})
	}
	return compiled{validating.NewValidator(
		compiler.CompileCondition(validations, optionalVars, mode),
		matcher,
		compiler.CompileCondition(annotations, optionalVars, mode),
		compiler.CompileCondition(messages, messageVars, mode),
		p.Spec.FailurePolicy,
		nil,
	), errors}
}

func object(m map[string]interface{}) runtime.Object {
	if m == nil {
		return nil
	}
	return &unstructured.Unstructured{Object: m}
}

func evaluate(r *request, validators map[string]compiled) answer {
	v, ok := validators[string(r.Policy)]
	if !ok {
		var p admissionregistrationv1.ValidatingAdmissionPolicy
		if err := json.Unmarshal(r.Policy, &p); err != nil {
			return answer{Error: err.Error()}
		}
		v = compile(&p)
		validators[string(r.Policy)] = v
	}
	obj, old := object(r.Object), object(r.OldObject)
	shown := r.Object
	if shown == nil {
		shown = r.OldObject
	}
	u := &unstructured.Unstructured{Object: shown}
	gvk := u.GroupVersionKind()
	gvr := schema.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: r.Resource}
	var options runtime.Object = &metav1.CreateOptions{}
	if r.Operation == string(admission.Update) {
		options = &metav1.UpdateOptions{}
	}
	attr := admission.NewAttributesRecord(obj, old, gvk, u.GetNamespace(), u.GetName(), gvr, "", admission.Operation(r.Operation), options, false, &r.UserInfo)
	versioned := &admission.VersionedAttributes{Attributes: attr, VersionedKind: gvk, VersionedObject: admission.NewLazyObject(obj), VersionedOldObject: admission.NewLazyObject(old)}
	var ns *corev1.Namespace
	if r.Namespace != nil {
		ns = &corev1.Namespace{}
		raw, _ := json.Marshal(r.Namespace)
		if err := json.Unmarshal(raw, ns); err != nil {
			return answer{Error: err.Error()}
		}
	}
	result := v.validator.Validate(context.Background(), gvr, versioned, object(r.Params), ns, 10000000, nil)
	out := answer{Decisions: []decision{}, Annotations: []annotation{}, CompileErrors: v.errors}
	for _, d := range result.Decisions {
		out.Decisions = append(out.Decisions, decision{string(d.Action), string(d.Evaluation), d.Message, string(d.Reason)})
	}
	for _, a := range result.AuditAnnotations {
		out.Annotations = append(out.Annotations, annotation{a.Key, string(a.Action), a.Value, a.Error})
	}
	return out
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64<<20), 64<<20)
	out := json.NewEncoder(os.Stdout)
	validators := map[string]compiled{}
	for in.Scan() {
		var r request
		a := answer{}
		if err := json.Unmarshal(in.Bytes(), &r); err != nil {
			a.Error = err.Error()
		} else {
			a = evaluate(&r, validators)
		}
		if err := out.Encode(a); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
