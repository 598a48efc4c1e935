"""The analysis plan's reasons: one sentence of argument per entry of :data:`thinking_sparks.plan.PLAN`
(``section.field``), which :func:`thinking_sparks.plan.table` shows beside the value. Kept apart from
the plan's sections so that each module stays one concept: what is fixed (``plan``), and why (here)."""

from __future__ import annotations

#: ``section.field`` -> the argument that fixes the value (shown beside it by :func:`table`)
REASONS: dict[str, str] = {
    "circuits.n_questions": "At 32 questions SFT's emergent count (9) sat on its noise floor (95th percentile "
                            "9.8); the floor shrinks as 1/sqrt(n), and 512 = 16 x 32 brings a 4x smaller floor, "
                            "as measured by benchmarks/noise_floor.py before this plan.",
    "circuits.n_samples": "The null of a head-set count is two circuits of one checkpoint on two independent "
                          "question samples of the comparison's size: one sample for the comparison, one for the null.",
    "circuits.n_boot": "Inclusion probabilities are shares of resampled circuits; 200 resamples put a share's "
                       "standard error at most 0.035, well inside the 0.2 / 0.8 rule.",
    "circuits.p_model": "A head is called emergent only when 4 of 5 resampled circuits of the model hold it ...",
    "circuits.p_base": "... and at most 1 of 5 of the base's: symmetric bounds, far from a coin flip.",
    "circuits.floor_quantile": "A count is above noise when it exceeds the 95th percentile of its same-size null "
                               "(one-sided 5 % false-claim rate).",
    "circuits.n_outer": "A count's distribution re-estimates every head's probabilities per resample (n_outer x "
                        "n_inner circuits a side): 100 outer resamples put 2-3 draws beyond a 95 % interval's ends, "
                        "enough for an integer count, at a cost the full zoo's ~60 checkpoints can pay on a CPU.",
    "circuits.n_inner": "25 inner resamples resolve the 0.8 / 0.2 bounds to 0.04 (standard error at most 0.1); "
                        "the calibration test (tests/test_headstats.py) holds the false-claim rate at 20.",
    "circuits.question_set": "Circuit questions of their own, generated (not the 100 fixed hard problems, too few "
                             "for two samples of 512) and disjoint from every eval set, so head sets are not "
                             "measured on the problems their ablations are later scored on.",
    "circuits.count_checkpoints": "The claims that compare a count with its floor (Table 3: SFT and distillation "
                                  "add many emergent heads; GRPO fewer than SFT) read the final checkpoint; the "
                                  "dynamic claims (persistence, switching, reward) read the checkpoints' head sets "
                                  "and their own nulls. The double bootstrap costs about 45 CPU-s per checkpoint at "
                                  "512 questions, so the per-checkpoint frame is 'every' only on request.",
    "circuits.patch_pairs": "Exact patching costs one forward per head and pair; on 64 seeded pairs its check of "
                            "EAP-IG (Spearman, top-k recall) and the faithfulness are estimated at a fraction of "
                            "the cost, while the circuit itself uses every pair.",
    "stats.confidence": "The paper's claims are tested at the conventional two-sided 95 %.",
    "stats.n_resamples": "2,000 bootstrap resamples keep the Monte-Carlo error of a 95 % interval's ends "
                         "below a tenth of its width.",
    "stats.seed": "One seed for every resampling and sampled question set; a seed fixes results on CPU.",
    "section4.exact_permutations": "Up to 8 checkpoint changes every permutation is enumerated (40,320), so the "
                                   "reward-tracking null is exact where the organism has about 8 to 10 checkpoints.",
    "section4.n_permutations": "Beyond 8 changes, 20,000 random permutations put the Monte-Carlo error of a 2.5 % "
                               "tail below 0.002, far inside the step between attainable critical values.",
    "section4.persist_share": "The paper (v2 §4.1, Fig 2A/B; digest §7) says 'most' SFT heads persist: more than half.",
    "section4.retained_share": "The paper's number (v2 §4.1 and §7): 'about two-thirds of baseline head nodes' are "
                               "retained after distillation; it gives no count.",
    "section4.retained_majority": "Two-thirds is a majority: the claim excludes the alternative that distillation "
                                  "replaced most base heads (half or fewer retained).",
    "section4.retained_contrast": "The paper contrasts the heads with the MLP nodes, all (100 %) of which are "
                                  "retained: 'about two-thirds' means most, not all.",
    "section4.min_heads": "One head has no spread to resample: an interval over heads needs two.",
    "rules.interval_method": "pass@1 of a few percent and its per-problem differences are skewed and bounded; "
                             "BCa corrects the percentile interval for both (Efron 1987), vectorized in scipy.",
    "rules.hard_difficulty": "Table 5 reads AIME'24 as the hard set; the organism's eval sets carry their "
                             "difficulty in the data, and 'hard' is the AIME'24 role.",
    "rules.easy_difficulty": "Table 5 reads MATH(-500) as the easiest set; 'easy' is its role in the organism.",
    "levels.band": "A pass@1 near 0 or 1 hides differences (floor/ceiling: at the hard set's 1-4 % every "
                   "student looked alike); the paper's benchmarks sit at 30-66 %, inside 20-80 %.",
    "levels.pilot_seed": "A seed no fixed set uses, and pilot problems equal to a fixed set's are skipped, so "
                         "the levels are chosen on problems no verdict is computed from.",
    "levels.pilot_problems": "100 problems per level bound a binomial 95 % CI's half-width by 0.1 (at 50 %): "
                             "enough to tell 5 % from 20 % or 50 %; level 1 holds only 26 outside the role sets.",
    "levels.pilot_samples": "One sample per problem: the pilot places models in or out of a band, it decides no "
                            "difference; 9 models x 5 levels had to run in 30 min of a shared 2-core machine.",
    "levels.calibrated": "Pilot (full zoo, 100 problems/level, 26 at L1, 1 sample) pass@1 L1..L5: base .27 .08 .06 "
                         ".03 .02; sft .35 .31 .11 .05 .05; distill .46 .25 .06 .05 .04; grpo-easy .42 .28 .06 "
                         ".05 .03; grpo-hard .19 .15 .05 .04 .00; grpo-hard-lr .12 .15 .03 .04 .03; hybrid think "
                         ".31 .27 .05 .04 .06, no_think .19 .06 0 0 0; teacher 1.0 .93 .70 .56 .37. No level mix "
                         "puts all in 20-80 %: the base is below 20 % at every level but 1, the students reach "
                         "the band only at levels 1-2, the teacher leaves the ceiling only at 3-5. choose_levels "
                         "over base and students (100 problems; level 1 holds 50 outside the pilot) gives levels "
                         "1-2: sft .33, distill .36, grpo-easy .35, hybrid think .29 in band; base .17, grpo-hard "
                         ".17, grpo-hard-lr .13, no_think .13 just below, all off the hard set's 1-4 % floor. "
                         "The teacher (.97 there) is compared where it is in band: the hard set. Level 1 cannot "
                         "hold the power calculation's 2,135 problems (sizes.calibrated_size), so the set is level 2 "
                         "alone: sft .31, distill .25, grpo-easy .28, hybrid think .27 in band; base .08 below it.",
    "levels.circuit": "The paper builds circuits on AIME'24, where its models answer 30-66 %; at levels 4-5 every "
                      "organism student is at 0-5 % (pilot above), at level 2 sft .31, distill .25, grpo-easy .28 and "
                      "hybrid think .27. Level 1 cannot fill 512 x 2 questions. At every level each post-trained "
                      "model's first answer differs from the base's on 58-100 % of the pilot's problems "
                      "(levels.min_distinct holds), so pairs survive.",
    "levels.min_distinct": "Identical answer prefixes are dropped from a circuit's pairs; at least half the "
                           "questions must survive so that a circuit keeps most of its planned size.",
    "levels.pilot_date": "The pilot run (profile full) the level choices rest on.",
    "size.rule": "The reproduction keeps the paper's method as written (top 5,000 of 183,555 edges, scaled to the "
                 "graph); the head-share size, beside it, tests whether a verdict only reflects that a small "
                 "model's circuit at that edge fraction holds half or more of its heads.",
    "size.head_share": "The paper's base circuit holds 56 of the 336 heads of DeepSeek-R1-Distill-Qwen-1.5B "
                       "(17 %): the share its emergent / base-only / retained counts are taken from.",
    "fig15.tau": "The paper's threshold (§A.5: 'τ = 0.1'); it does not say raw or normalised, and on a raw KL "
                 "score scale 0.1 has no meaning that carries between models, so it is taken relative to the "
                 "circuit's largest edge.",
    "fig15.no_think_mode": "The organism's template marks thinking with an opening <think>; enable_thinking=False "
                           "pre-fills an empty think block with no flag in the question, the nearest to the "
                           "paper's 'without an explicit <think>' for a student never trained on /no_think.",
    "stats.half_width": "The issue's bar: a difference of pass@1 is known to +-0.03 (95 %), paired by problem "
                        "and sampling seed.",
}

_BOUND = ("thinking_sparks.power: n = ceil((z sd_d / h)^2) with z = 1.96, h = stats.half_width = 0.03 and "
          "sd_d <= sqrt(p_a q_a + p_b q_b) <= sqrt(0.5), the bound for a paired difference of per-problem mean "
          "correctness when the two conditions' problem rates do not covary negatively (a problem hard for one "
          "model is not easier for the other); it holds at any accuracy and any k, so no result enters it")
REASONS.update({
    "sizes.easy_levels": "The task's levels 1-2 take GSM8K's role (organism.task); levels are chosen apart from sizes.",
    "sizes.medium_levels": "Level 3 takes MATH-500's role.",
    "sizes.hard_levels": "Levels 4-5 take AIME / AMC's role.",
    "sizes.easy_size": "152 problems, every one the set's levels can give: level 1 has only 76 distinct eval-split "
                       "problems and the set alternates levels, so the calculation's 2,135 (sizes.hard_size) cannot "
                       "be drawn; 152 reach a half-width of 1.96 sqrt(0.5) / sqrt(152) = 0.112 under its bound.",
    "sizes.medium_size": "2,135 problems, as sizes.hard_size (the hybrid's thinking check on this set).",
    "sizes.hard_size": f"2,135 problems: {_BOUND}. Problems are free (organism.task.make_problems), so the set "
                       "is enlarged to n; its seed is kept (its first 100 problems are the old set).",
    "sizes.calibrated_size": "1,230 problems, from the power calculation with sd_d taken from the difficulty pilot "
                             "(independent problems, levels.calibrated's reason): the widest compared pair at level 2, "
                             "sft .31 vs base .08, has sd_d = sqrt(.31 x .69 + .08 x .92) = 0.536 (no negative "
                             "covariance), n = (1.96 x 0.536 / 0.03)^2 = 1,227. Level 2's eval split holds about 2,400 "
                             "distinct problems, so the worst-case bound's 2,135 would leave too few for the circuit "
                             "set (512 x 2, disjoint); the premise checks of page 02 are decided here "
                             "(levels.premise_set).",
    "levels.premise_set": "The premises (post-training raises accuracy, the hybrid thinks better, the teacher leads) "
                          "are decided where the compared students sit in the 20-80 % band (levels.calibrated), not on "
                          "the hard set's 1-4 % floor.",
    "sizes.premise_k": "1 sample per problem: the bound on sd_d does not fall with k, and at a fixed number of "
                       "samples n x k the variance of a paired mean is least at k = 1 (problems are free). Cost "
                       "(benchmarks/eval_cost.py, 2026-12-03, full base model, loaded 2-core machine): time scales "
                       "with samples at any k, and 152 + 2,135 + 2,135 samples per cell take 0.84x the 100 x 4 + "
                       "100 x 4 + 100 x 32 of before (17,783 s against 21,085 s for 9 cells there).",
    "sizes.curve_problems": "The checkpoint curves are descriptive (no verdict): 100 problems, as before, so "
                            "the curves cost what they did.",
    "sizes.curve_k": "4 samples per problem for the curves, as before (no verdict reads them).",
    "sizes.head_problems": f"2,135 problems of each eval set (every problem sizes.medium_size and sizes.hard_size "
                           f"hold; the easy set gives its 152): {_BOUND}. The compared conditions of pages 05 and 06 "
                           "are ablations and scalings of the organism's models on the medium and hard sets, where "
                           "no pilot gives sd_d, so the worst-case bound sizes them, as it sizes those sets; the 200 "
                           "of before (half-width 0.098) were chosen for cost alone. Cost (full profile, 2026-12-03, "
                           "2 cores at load 15, nice 10): one cell of 2,135 problems x 1 sample took 323-325 s "
                           "(34 new tokens an answer), and page 05 evaluates 27 cells per set (Table 1's 9, "
                           "Table 5's 7, Fig 4's 11): time scales with problems, so the page's evaluations cost 8.0x "
                           "those at 200 (4,422 problems a cell against 552).",
    "sizes.head_k": "1 sample per problem, as sizes.premise_k: at a fixed cost more problems beat more samples.",
    "sizes.k_curve_problems": "1,230 problems, every problem of think.k_curve_set (sizes.calibrated_size), capped by "
                              "the set: Fig 5's two rows are paired differences (ablated - think off, the same "
                              "problems and sampling seeds). success@1 reads the first sample, a 0/1 per problem: "
                              "with the pilot's hybrid no_think pass@1 of .06 at level 2 (levels.calibrated's reason) "
                              "in both conditions, sd_d = sqrt(2 x .06 x .94) = 0.336 and n = (1.96 x 0.336 / 0.03)^2 "
                              "= 482, which the set holds (half-width 0.019 at 1,230). pass@64 has no pilot value, so "
                              "the worst-case bound sizes it: n = 2,135, more than level 2 holds beside the circuit "
                              "sets (sizes.calibrated_size's reason); at 1,230 its half-width under the bound is "
                              "1.96 sqrt(0.5) / sqrt(1,230) = 0.040, so an inconclusive pass@64 row states its "
                              "n_to_decide. The 30 of before (half-width 0.25) were chosen for cost alone. Cost (full profile, "
                              "2026-12-03, 2 shared cores at load 4-5, nice 10): the three think-off conditions' "
                              "1,230 x 64 samples took 169, 92 and 119 s (short direct answers); page 06 cold took "
                              "704 s wall, 391 s CPU in all, so the cap is the set, not the cost.",
    "sizes.k_curve_samples": "64: the paper's Fig 5 reaches k = 64.",
    "organism.think_share": "An even mix (0.5): neither mode is favoured in training, and the paper does not "
                            "give Qwen3's mix; the 0.75 used before was picked after measuring the think gain.",
    "agreement.edge_sample": "The issue's floor: at least 1,000 edges beyond the circuit's top-n; all ~6,600 edges of "
                             "the organism's graph cost 450 s per circuit on 2 cores under a light load (measured on "
                             "sft's final circuit, 200 edges, before this entry) and several times that on the "
                             "shared machine, 1,000 + top-n about a sixth.",
    "agreement.edge_strata": "Ten equal bins of the attribution rank, so weak edges are as represented as strong ones "
                             "and a Spearman over edges is not just the top edges' ranking.",
})

# the second circuit set (issue 24: the paper's AMC circuits, Figs 6 and 9)
REASONS.update({
    "levels.second_circuit": "The paper's second circuit set (AMC) differs from AIME'24 in difficulty; the organism's "
                             "only level with room for a second disjoint 512 x 2 is level 3: level 1's 76 eval-split "
                             "problems are all in the easy set (sizes.easy_size), level 2's about 2,400 hold the "
                             "calibrated set (1,230), the first circuit set (1,024) and the easy set's 76, and at "
                             "levels 4-5 every student is at 0-5 % (pilot, levels.calibrated). At level 3 the pilot "
                             "has sft .11, distill .06, grpo-easy .06, grpo-hard .05, base .06, and each "
                             "post-trained model's first answer differs from the base's on most problems "
                             "(levels.min_distinct holds at every level), so pairs survive. Level 3 is harder than "
                             "level 2 where AMC is easier than AIME: no easier level is left, so the organism keeps "
                             "the paper's difference of difficulty, not its direction.",
    "second_set.question_set": "Generated as organism/circuit (eval split, seed stats.seed, every eval set's and the "
                               "first circuit set's problems excluded), so head sets are never measured on problems "
                               "that are scored or that built the first set's circuits.",
    "second_set.roles": "The paper's AMC figures are Fig 6 (SFT) and Fig 9 (GRPO on OpenR1, its main data); the "
                        "organism's SFT run and its hard-data GRPO run (OpenR1's role, emergence.modelruns."
                        "ROLE_DEFAULTS) play them. Distillation is added (plan change of 2026-12-03, with "
                        "question_scale) because the §4 claims decided on this set compare SFT, GRPO and "
                        "distillation, and the paper's Fig 14 pools both circuit sets for every method. The other "
                        "runs are left out: each costs 2 x (checkpoints + 1) more circuits.",
    "second_set.question_scale": "A two-stage design (plan change of 2026-12-03). Stage 1, the pilot: the first set at "
                                 "circuits.n_questions decided 3 of page 04's 9 claims; its power calculation "
                                 "(emergence.decide, n_to_decide) asked 498 questions per circuit for SFT's count, "
                                 "4,473 for GRPO minus SFT. Level 2 has no questions left for a larger first set "
                                 "(see levels.second_circuit), so stage 2 is the second set, level 3 (the paper "
                                 "makes every §4 claim on its AMC circuits too), at 4 x 512 = 2,048 questions per "
                                 "sample: above the 498, and 2 x 2,048 per checkpoint is the most the cold build "
                                 "affords (about 2,000 CPU-s for three runs). The claims are decided on stage 2 "
                                 "alone, on questions the pilot never saw, so each claim has one test at 5 %; the "
                                 "pilot's rows are shown beside it and decide nothing.",
    "second_set.grpo_pool": "Plan change of 2026-12-03, after stage 2 (the second set with grpo-hard alone) left "
                            "the two GRPO-method claims inconclusive: switching -0.062 [-0.195, 0.027] with "
                            "n_to_decide 39 heads (13 here), reward tracking -0.014 [-0.032, 0.009] with 20 "
                            "changes (9 here). One run cannot supply more heads or changes, and the paper makes "
                            "both claims of GRPO as a method (Figs 3, 7, 8 and 9: OpenR1, GSM8K, a larger rate, "
                            "AMC circuits), so they are decided on every GRPO run of the main recipe pooled: "
                            "grpo-hard, grpo-easy (GSM8K's role) and grpo-hard-lr (about 3 x 13 heads, 27 "
                            "changes). Fig 8's 20x run keeps its own rows. These two claims are thus looked at "
                            "twice, each at 5 % (stage 2 decided nothing): the chance that either look claims "
                            "on null data is at most 10 % (the page says so), and the pooled data include stage "
                            "2's grpo-hard.",
    "second_set.null_quantile": "The one-sided 5 % of circuits.floor_quantile, mirrored: the null is the Jaccard of the "
                                "final emergent sets of two independent question samples of one set (both sets, "
                                "bootstrapped as the cross-set Jaccard is), so a cross-set Jaccard wholly in its "
                                "lowest 5 % means the question set changes the heads beyond question sampling. The "
                                "paper gives no number for how alike its AIME and AMC heads are.",
})

REASONS.update({  # page 08 (the Llama organism)
    "generalisation.early_share": "The paper's Llama GRPO run 'activates many more heads after checkpoint 500' (Fig "
                                  "11) of about 2,500 steps (its GRPO runs reach step 2500, digest §2): a fifth of "
                                  "the run.",
})

REASONS.update({  # page 06's Fig 5 rows (issue 21)
    "think.k_curve_set": "The paper draws Fig 5 on AIME'24, where Qwen3-8B think-off answers 30 % (Table 2). On the "
                         "hard set the organism's hybrid answers 1 % without thinking (the 30-problem curves of "
                         "2026-12-03: pass@1 .011-.016), so every success@1 difference was 0 on every problem and "
                         "its row had no interval. The pilot (levels.calibrated's reason) puts hybrid no_think at "
                         ".19 at level 1 (76 distinct problems: too few), .06 at level 2 and 0 at levels 3-5: no "
                         "level holding enough problems puts think-off inside levels.band, and level 2, the "
                         "calibrated set, is the nearest (pass@64, the other row's statistic, rises with k from "
                         "there). So the curves are drawn on the calibrated set, chosen from the pilot before "
                         "any curve on it; the page states the think-off pass@1 and pass@64 measured there.",
})

REASONS.update({  # page 08's sparse-feature circuits (Fig 12, §A.3)
    "sae.dict_factor": "Llama Scope's residual SAEs (the paper's) use 8x and 32x expansions; 8x of our 64-dim residual "
                       "(512 features) is its smaller setting.",
    "sae.k": "A TopK SAE fixes L0 at k, so no L1 coefficient is tuned on results (Gao et al. 2024); Llama Scope's "
             "TopK SAEs keep k = 50 of a 4096-dim stream, and a quarter of our 64 dimensions keeps the code sparse "
             "while an answer token's residual can still be rebuilt.",
    "sae.steps": "1000 steps of 512 tokens pass over the training tokens about ten times; the recorded loss curve "
                 "(quality.final_nmse) shows whether training had levelled off.",
    "sae.batch": "SAE batches of a few thousand tokens, scaled down to the organism's token counts and to two shared CPU cores.",
    "sae.lr": "Adam's usual 1e-3 for SAEs of this size (the sae-lens default order of magnitude).",
    "sae.log_every": "Descriptive only: a point of the training curve every 100 steps.",
    "sae.train_problems": "About 50k tokens of worked problems: about 100 tokens per feature.",
    "sae.heldout_problems": "Quality is measured on problems the SAE never saw; 400 give about 10k tokens.",
    "sae.levels": "Every task level, so the SAEs see every kind of problem the circuit questions and answers hold.",
    "sae.forward_batch": "Cost only: sequences per forward pass.",
    "sae.seed": "The plan's seed (stats.seed), for the SAEs and their training problems.",
    "sae.min_kl_score": "sae-lens's KL-divergence score (1 - KL with the reconstruction spliced / KL with the residual "
                        "zeroed): an SAE below 0.9 loses more than a tenth of what its layer carries for the next "
                        "token and is treated as changing the model's answers. Fixed before any SAE was trained.",
    "sae.n_questions": "A quarter of circuits.n_questions (page 04's pairs, sample 0's first questions): each question "
                       "costs both models (ig_steps + 2) forward/backward passes at every node. The base is "
                       "attributed on twice as many (the next 128 pairs), so that its null compares two samples of "
                       "128, the comparison's size (plan change of 2026-12-03: the first null used halves of 64).",
    "sae.ig_steps": "circuits' EAP-IG default (CircuitInputs.steps, the reference library's).",
    "sae.attr_batch": "Cost only: pairs per attribution batch.",
    "sae.null_splits": "Random splits of the base's 2 x n_questions into two samples of n_questions, each giving one "
                       "base-vs-base statistic; 200 place "
                       "the 95 % quantile within a few resamples.",
    "sae.null_quantile": "The paper gives no size for 'gains strongly'; a claim is reproduced when its whole CI lies "
                         "above the 95 % quantile of the same statistic between two disjoint question samples of the "
                         "base, each of the comparison's size (the one-sided 5 % level of stats.confidence's "
                         "intervals).",
    "sae.mid_late_from": "Depth split into thirds: 'mid-late layers' (Fig 12's residual claim) are the upper two "
                         "thirds.",
    "sae.late_from": "Depth split into thirds: 'late layers' (Fig 12's MLP claim) are the upper third.",
})
