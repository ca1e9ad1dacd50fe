namespace Containers.Orchestration.Api.Kinds;

/// <summary>
/// The kinds that are questions, never stored: a POST is answered at once with the object and its status (who am I,
/// may I, what may I, whose token is this). Discovery lists them with the one verb create.
/// </summary>
internal abstract class ReviewStrategy : KindStrategy
{
    private const string Authorization = "authorization.k8s.io", Authentication = "authentication.k8s.io";

    /// <summary>SelfSubjectAccessReview: may I (<c>kubectl auth can-i</c>).</summary>
    public static ResourceType SelfSubjectAccessReview { get; } = Review<SelfSubjectAccessReviewStrategy>(Authorization, "SelfSubjectAccessReview", "selfsubjectaccessreviews", false);

    /// <summary>SubjectAccessReview: may this user.</summary>
    public static ResourceType SubjectAccessReview { get; } = Review<SubjectAccessReviewStrategy>(Authorization, "SubjectAccessReview", "subjectaccessreviews", false);

    /// <summary>LocalSubjectAccessReview: may this user, in this namespace.</summary>
    public static ResourceType LocalSubjectAccessReview { get; } = Review<LocalSubjectAccessReviewStrategy>(Authorization, "LocalSubjectAccessReview", "localsubjectaccessreviews", true);

    /// <summary>SelfSubjectRulesReview: what may I (<c>kubectl auth can-i --list</c>).</summary>
    public static ResourceType SelfSubjectRulesReview { get; } = Review<SelfSubjectRulesReviewStrategy>(Authorization, "SelfSubjectRulesReview", "selfsubjectrulesreviews", false);

    /// <summary>TokenReview: whose token is this.</summary>
    public static ResourceType TokenReview { get; } = Review<TokenReviewStrategy>(Authentication, "TokenReview", "tokenreviews", false);

    /// <summary>SelfSubjectReview: who am I (<c>kubectl auth whoami</c>).</summary>
    public static ResourceType SelfSubjectReview { get; } = Review<SelfSubjectReviewStrategy>(Authentication, "SelfSubjectReview", "selfsubjectreviews", false);

    /// <inheritdoc/>
    public override bool Virtual => true;

    /// <inheritdoc/>
    public override bool DeleteCollection => false;

    private static ResourceType Review<T>(string group, string kind, string plural, bool namespaced)
        where T : ReviewStrategy, new() =>
        new(group, "v1", kind, plural, namespaced) { Strategy = new T() };
}

/// <summary>SelfSubjectAccessReview: a question, answered by ReviewEndpoints.</summary>
internal sealed class SelfSubjectAccessReviewStrategy : ReviewStrategy
{
}

/// <summary>SubjectAccessReview: a question, answered by ReviewEndpoints.</summary>
internal sealed class SubjectAccessReviewStrategy : ReviewStrategy
{
}

/// <summary>LocalSubjectAccessReview: a question, answered by ReviewEndpoints.</summary>
internal sealed class LocalSubjectAccessReviewStrategy : ReviewStrategy
{
}

/// <summary>SelfSubjectRulesReview: a question, answered by ReviewEndpoints.</summary>
internal sealed class SelfSubjectRulesReviewStrategy : ReviewStrategy
{
}

/// <summary>TokenReview: a question, answered by ReviewEndpoints.</summary>
internal sealed class TokenReviewStrategy : ReviewStrategy
{
}

/// <summary>SelfSubjectReview: a question, answered by ReviewEndpoints.</summary>
internal sealed class SelfSubjectReviewStrategy : ReviewStrategy
{
}
