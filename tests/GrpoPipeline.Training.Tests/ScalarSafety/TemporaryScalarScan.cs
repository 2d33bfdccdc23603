using Mono.Cecil;
using Mono.Cecil.Cil;

namespace GrpoPipeline.Training.Tests.ScalarSafety;

/// <summary>
/// Reads TorchSharp's IL for every method that makes a temporary <c>Scalar</c> (an implicit conversion or
/// <c>ToScalar()</c>) in its body, or calls or points to one that does, inside TorchSharp. Such a method hands libtorch
/// the handle of a Scalar that nothing keeps alive, so a collection on another thread can finalize it mid-call.
/// </summary>
/// <remarks>
/// The scan over-approximates: a method that creates a Scalar and keeps it alive itself is counted too. That is the
/// safe side of the line; none of the methods the Training library needs is counted wrongly.
/// </remarks>
sealed class TemporaryScalarScan
{
    readonly HashSet<string> _unsafe = [];
    readonly DefaultAssemblyResolver _resolver = new();

    public TemporaryScalarScan(string torchSharpPath)
    {
        _resolver.AddSearchDirectory(Path.GetDirectoryName(torchSharpPath));
        using var module = Read(torchSharpPath);
        Methods = module.Types.SelectMany(Nested).SelectMany(t => t.Methods).Where(m => m.HasBody).ToList();
        var callers = new Dictionary<string, List<string>>();
        foreach (var method in Methods)
            foreach (var call in Calls(method))
            {
                if (CreatesScalar(call)) _unsafe.Add(method.FullName);
                var key = Key(call);
                if (!callers.TryGetValue(key, out var list)) callers[key] = list = [];
                list.Add(method.FullName);
            }
        var pending = new Queue<string>(_unsafe);
        while (pending.TryDequeue(out var callee))
            foreach (var caller in callers.GetValueOrDefault(callee) ?? [])
                if (_unsafe.Add(caller)) pending.Enqueue(caller);
        Banned = Methods.Where(m => _unsafe.Contains(m.FullName) && Visible(m)).Select(DocId).Distinct().Order(StringComparer.Ordinal).ToList();
    }

    List<MethodDefinition> Methods { get; }

    /// <summary>The documentation IDs of the public members that make a temporary Scalar: BannedSymbols entries.</summary>
    public IReadOnlyList<string> Banned { get; }

    /// <summary>Call sites in <paramref name="assemblyPath"/> that reach a temporary Scalar, as "caller → callee".</summary>
    public List<string> CallSites(string assemblyPath, Func<TypeDefinition, bool>? exempt = null)
    {
        using var module = Read(assemblyPath);
        var sites = new List<string>();
        foreach (var method in module.Types.SelectMany(Nested).Where(t => exempt?.Invoke(Outermost(t)) != true).SelectMany(t => t.Methods).Where(m => m.HasBody))
            foreach (var call in Calls(method))
                if (call.DeclaringType.Scope.Name.StartsWith("TorchSharp", StringComparison.Ordinal) && (CreatesScalar(call) || _unsafe.Contains(Key(call))))
                    sites.Add($"{method.DeclaringType.FullName}::{method.Name} → {call.DeclaringType.Name}::{call.Name}({string.Join(", ", call.Parameters.Select(p => p.ParameterType.Name))})");
        return sites;
    }

    ModuleDefinition Read(string path) => ModuleDefinition.ReadModule(path, new ReaderParameters { AssemblyResolver = _resolver });

    static TypeDefinition Outermost(TypeDefinition t) => t.DeclaringType is { } d ? Outermost(d) : t;

    static IEnumerable<TypeDefinition> Nested(TypeDefinition t) => t.NestedTypes.SelectMany(Nested).Prepend(t);

    static IEnumerable<MethodReference> Calls(MethodDefinition method) =>
        method.Body.Instructions.Where(i => i.OpCode == OpCodes.Call || i.OpCode == OpCodes.Callvirt || i.OpCode == OpCodes.Newobj || i.OpCode == OpCodes.Ldftn)
            .Select(i => i.Operand).OfType<MethodReference>();

    static bool CreatesScalar(MethodReference m) =>
        (m.DeclaringType.FullName == "TorchSharp.Scalar" && m.Name == "op_Implicit")
        || (m.DeclaringType.FullName == "TorchSharp.ScalarExtensionMethods" && m.Name == "ToScalar");

    // A call to a generic method or to a member of a generic type names an instantiation; the scan keys definitions.
    static string Key(MethodReference m)
    {
        if (m.GetElementMethod() is var e && !e.DeclaringType.IsGenericInstance) return e.FullName;
        try { return e.Resolve()?.FullName ?? e.FullName; }
        catch (AssemblyResolutionException) { return e.FullName; }
    }

    static bool Visible(MethodDefinition m)
    {
        if (!(m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly)) return false;
        for (var t = m.DeclaringType; t is not null; t = t.DeclaringType)
            if (!(t.IsPublic || t.IsNestedPublic || t.IsNestedFamily || t.IsNestedFamilyOrAssembly)) return false;
        return true;
    }

    /// <summary>The C# documentation comment ID of a method, or of the property it is an accessor of.</summary>
    static string DocId(MethodDefinition m)
    {
        var type = TypeName(m.DeclaringType);
        if (m.IsGetter || m.IsSetter)
        {
            var property = m.DeclaringType.Properties.First(p => p.GetMethod == m || p.SetMethod == m);
            return $"P:{type}.{property.Name}{Parameters(property.Parameters)}";
        }
        var name = m.Name switch { ".ctor" => "#ctor", ".cctor" => "#cctor", _ => m.Name };
        if (m.HasGenericParameters) name += "``" + m.GenericParameters.Count;
        var id = $"M:{type}.{name}{Parameters(m.Parameters)}";
        return m.Name is "op_Implicit" or "op_Explicit" ? id + "~" + TypeName(m.ReturnType) : id;
    }

    static string Parameters(IList<ParameterDefinition> parameters) =>
        parameters.Count == 0 ? "" : "(" + string.Join(",", parameters.Select(p => TypeName(p.ParameterType))) + ")";

    static string TypeName(TypeReference t) => t switch
    {
        GenericParameter p => (p.Owner is MethodReference ? "``" : "`") + p.Position,
        ByReferenceType r => TypeName(r.ElementType) + "@",
        PointerType p => TypeName(p.ElementType) + "*",
        ArrayType a => TypeName(a.ElementType) + (a.Rank == 1 ? "[]" : "[" + string.Join(",", Enumerable.Repeat("0:", a.Rank)) + "]"),
        IModifierType m => TypeName(m.ElementType),
        GenericInstanceType g => Generic(g.ElementType) + "{" + string.Join(",", g.GenericArguments.Select(TypeName)) + "}",
        _ => t.FullName.Replace('/', '.'),
    };

    // A constructed type's name drops the definition's arity (`1) in favour of its arguments in braces.
    static string Generic(TypeReference definition)
    {
        var name = definition.FullName.Replace('/', '.');
        return System.Text.RegularExpressions.Regex.Replace(name, "`[0-9]+", "");
    }
}
