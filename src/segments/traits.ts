/**
 * The trait catalogue of the reference's persona traits endpoint: every category and its
 * traits, in the order the reference lists them. The default scoring key (scoring.ts) scores
 * each of them from survey answers.
 */
export const REFERENCE_TRAITS: Readonly<Record<string, readonly string[]>> = {
  agreeableness: ["Altruism", "Modesty", "Trust"],
  communication: ["Feeler", "Intuitor", "Sensor", "Thinker"],
  competitiveness: [
    "Avoidant",
    "Collaborative",
    "Competitive affectivity",
    "Dependent",
    "Dominant",
    "General competitiveness",
    "Independent",
    "Personal enhancement",
  ],
  conscientiousness: ["Achievement striving", "Competence", "Self-discipline"],
  coreMotivations: ["Autonomy", "Mastery", "Purpose"],
  culture: ["Individualism", "Indulgence", "Long term orientation", "Masculinity", "Power distance", "Uncertainty avoidance"],
  extraversion: ["Activity", "Assertiveness", "Warmth"],
  motivations: [
    "Compensatory effort",
    "Competitiveness",
    "Confidence in success",
    "Difficult tasks",
    "Dominance",
    "Eagerness to learn",
    "Engagement",
    "Fearlessness",
    "Flexibility",
    "Flow",
    "Goal setting",
    "Independence",
    "Internality",
    "Persistence",
    "Pride in productivity",
    "Self-control",
    "Status orientation",
  ],
  neuroticism: ["Anxiety", "Impulsiveness", "Vulnerability"],
  openness: ["Actions", "Empathy", "Fantasy"],
  personality: ["Agreeableness", "Conscientiousness", "Extraversion", "Neuroticism", "Openness"],
  wellBeing: [
    "Autonomy",
    "Bounded reciprocity",
    "Grit",
    "Mastery",
    "Physical activity level",
    "Physical well-being",
    "Psychological well-being",
    "Purpose",
    "Resilience",
    "Sleep",
    "Social well-being",
  ],
};

/**
 * Traits measured by the same questions in two categories (the reference reports identical
 * means for them): the default key scores `wellBeing` Autonomy, Mastery and Purpose from the
 * `coreMotivations` questions.
 */
export const SHARED_TRAITS: Readonly<Record<string, string>> = {
  "wellBeing/Autonomy": "coreMotivations/Autonomy",
  "wellBeing/Mastery": "coreMotivations/Mastery",
  "wellBeing/Purpose": "coreMotivations/Purpose",
};

/** `Achievement striving` -> `achievement_striving`: the question ids of the default key. */
export const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_|_$/g, "");
