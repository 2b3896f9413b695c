--
-- PostgreSQL database dump
--


-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: alembic_version; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.alembic_version (
    version_num character varying(32) NOT NULL
);


--
-- Name: arena_meta; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.arena_meta (
    key character varying(64) NOT NULL,
    value text NOT NULL
);


--
-- Name: battle; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.battle (
    battle_id character varying(200) NOT NULL,
    mode character varying(32) NOT NULL,
    status character varying(32) NOT NULL,
    end_reason text,
    model_a text NOT NULL,
    model_b text NOT NULL,
    system_prompt_a text NOT NULL,
    system_prompt_b text NOT NULL,
    conversation_a json NOT NULL,
    conversation_b json NOT NULL,
    started_at timestamp with time zone NOT NULL,
    ended_at timestamp with time zone NOT NULL,
    rater_hash text NOT NULL,
    pair_policy text NOT NULL,
    pair_probability double precision,
    side_seed bigint,
    flags json NOT NULL,
    language text,
    category text,
    replay_of character varying(200),
    schema_version integer NOT NULL,
    app_version text NOT NULL,
    publish_consent boolean,
    terms_version text,
    labels json DEFAULT '[]'::json NOT NULL,
    labeller_version text,
    model_state_a text,
    model_state_b text,
    discarded_turns json DEFAULT '[]'::json NOT NULL,
    judge json
);


--
-- Name: generation; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.generation (
    battle_id character varying(200) NOT NULL,
    "position" integer NOT NULL,
    side character varying(1) NOT NULL,
    endpoint text NOT NULL,
    served_model text NOT NULL,
    messages json NOT NULL,
    params json NOT NULL,
    seed bigint,
    output text NOT NULL,
    started_at timestamp with time zone,
    first_token_at timestamp with time zone,
    finished_at timestamp with time zone,
    prompt_tokens bigint,
    completion_tokens bigint,
    finish_reason text,
    system_fingerprint text,
    response_model text,
    error text,
    extra json NOT NULL
);


--
-- Name: turn; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.turn (
    battle_id character varying(200) NOT NULL,
    "position" integer NOT NULL,
    turn_index integer NOT NULL,
    prompt text NOT NULL
);


--
-- Name: vote; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.vote (
    battle_id character varying(200) NOT NULL,
    winner character varying(32) NOT NULL,
    voted_at timestamp with time zone,
    reason_tags json DEFAULT '[]'::json NOT NULL,
    reason_comment text
);


--
-- Data for Name: alembic_version; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.alembic_version VALUES ('0004');


--
-- Data for Name: arena_meta; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.arena_meta VALUES ('schema_version', '4');


--
-- Data for Name: battle; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.battle VALUES ('v1-battle-01', 'anonymous', 'voted', 'vote', 'qwen2.5-0.5b-instruct', 'smollm2-360m-instruct', 'You are a helpful assistant.', 'You are a helpful assistant.', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 9: what is 0 + 9?"}, {"role": "assistant", "content": "The answer is 9."}]', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 9: what is 0 + 9?"}, {"role": "assistant", "content": ".9 si rewsna ehT"}]', '2026-03-01 12:09:00.123456+00', '2026-03-01 12:09:15.123456+00', 'rater-02-5f2a9c', 'uniform', 0.3333333333333333, 987654330, '[]', 'English', NULL, NULL, 1, '0.1.0', NULL, NULL, '[]', NULL, NULL, NULL, '[]', 'null');
INSERT INTO public.battle VALUES ('v1-battle-02', 'anonymous', 'voted', 'vote', 'qwen2.5-0.5b-instruct', 'smollm2-360m-instruct', 'You are a helpful assistant.', 'You are a helpful assistant.', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 10: what is 0 + 10?"}, {"role": "assistant", "content": "The answer is 10."}, {"role": "user", "content": "Question 2 of battle 10: what is 1 + 10?"}, {"role": "assistant", "content": "The answer is 11."}, {"role": "user", "content": "Question 3 of battle 10: what is 2 + 10?"}, {"role": "assistant", "content": "The answer is 12."}, {"role": "user", "content": "Question 4 of battle 10: what is 3 + 10?"}, {"role": "assistant", "content": "The answer is 13."}]', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 10: what is 0 + 10?"}, {"role": "assistant", "content": ".01 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 10: what is 1 + 10?"}, {"role": "assistant", "content": ".11 si rewsna ehT"}, {"role": "user", "content": "Question 3 of battle 10: what is 2 + 10?"}, {"role": "assistant", "content": ".21 si rewsna ehT"}, {"role": "user", "content": "Question 4 of battle 10: what is 3 + 10?"}, {"role": "assistant", "content": ".31 si rewsna ehT"}]', '2026-03-01 12:10:00.123456+00', '2026-03-01 12:10:45.123456+00', 'rater-03-5f2a9c', 'uniform', 0.3333333333333333, 987654331, '["identity_leak", "moderation"]', 'English', NULL, NULL, 1, '0.1.0', NULL, NULL, '[]', NULL, NULL, NULL, '[]', 'null');
INSERT INTO public.battle VALUES ('v1-battle-03', 'anonymous', 'voted', 'vote', '模型-a', 'smollm2-360m-instruct', 'You are a helpful assistant.', 'You are a helpful assistant.', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Erkl\u00e4re \u91cf\u5b50 \ud83e\udd16 \u00ab\u00f1\u00bb \u200b\t\n"}, {"role": "assistant", "content": "\u041e\u0442\u0432\u0435\u0442: \u2211 \u2260 \u221e \ud83d\ude00"}, {"role": "user", "content": "\u0438 \u0435\u0449\u0451 ''quoted'' \"twice\""}, {"role": "assistant", "content": "\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00"}]', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Erkl\u00e4re \u91cf\u5b50 \ud83e\udd16 \u00ab\u00f1\u00bb \u200b\t\n"}, {"role": "assistant", "content": "\ud83d\ude00 \u221e \u2260 \u2211 :\u0442\u0435\u0432\u0442\u041e"}, {"role": "user", "content": "\u0438 \u0435\u0449\u0451 ''quoted'' \"twice\""}, {"role": "assistant", "content": "\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00"}]', '2026-03-01 12:11:00.123456+00', '2026-03-01 12:11:25.123456+00', 'rater-04-5f2a9c', 'uniform', 0.3333333333333333, 987654332, '[]', 'mixed', 'coding', NULL, 1, '0.1.0', NULL, NULL, '[]', NULL, NULL, NULL, '[]', 'null');
INSERT INTO public.battle VALUES ('v1-battle-04', 'anonymous', 'voted', 'vote', 'qwen2.5-0.5b-instruct', 'smollm2-360m-instruct', '', '', '[{"role": "user", "content": "Question 1 of battle 12: what is 0 + 12?"}, {"role": "assistant", "content": "The answer is 12."}, {"role": "user", "content": "Question 2 of battle 12: what is 1 + 12?"}, {"role": "assistant", "content": "The answer is 13."}]', '[{"role": "user", "content": "Question 1 of battle 12: what is 0 + 12?"}, {"role": "assistant", "content": ".21 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 12: what is 1 + 12?"}, {"role": "assistant", "content": ".31 si rewsna ehT"}]', '2026-03-01 12:12:00.123456+00', '2026-03-01 12:12:25.123456+00', 'rater-05-5f2a9c', 'uniform', 0.3333333333333333, 987654333, '[]', 'English', NULL, NULL, 1, '0.1.0', NULL, NULL, '[]', NULL, NULL, NULL, '[]', 'null');
INSERT INTO public.battle VALUES ('v1-battle-05', 'anonymous', 'voted', 'vote', 'qwen2.5-0.5b-instruct', 'smollm2-360m-instruct', 'Answer in French.', '', '[{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Question 1 of battle 13: what is 0 + 13?"}, {"role": "assistant", "content": "The answer is 13."}, {"role": "user", "content": "Question 2 of battle 13: what is 1 + 13?"}, {"role": "assistant", "content": "The answer is 14."}]', '[{"role": "user", "content": "Question 1 of battle 13: what is 0 + 13?"}, {"role": "assistant", "content": ".31 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 13: what is 1 + 13?"}, {"role": "assistant", "content": ".41 si rewsna ehT"}]', '2026-03-01 12:13:00.123456+00', '2026-03-01 12:13:25.123456+00', 'rater-06-5f2a9c', 'uniform', 0.3333333333333333, 987654334, '[]', 'English', NULL, NULL, 1, '0.1.0', NULL, NULL, '[]', NULL, NULL, NULL, '[]', 'null');
INSERT INTO public.battle VALUES ('v1-battle-06', 'anonymous', 'abandoned', 'new_round', 'qwen2.5-0.5b-instruct', 'smollm2-360m-instruct', 'You are a helpful assistant.', 'You are a helpful assistant.', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 14: what is 0 + 14?"}, {"role": "assistant", "content": "The answer is 14."}, {"role": "user", "content": "Question 2 of battle 14: what is 1 + 14?"}, {"role": "assistant", "content": "The answer is 15."}]', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 14: what is 0 + 14?"}, {"role": "assistant", "content": ".41 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 14: what is 1 + 14?"}, {"role": "assistant", "content": ".51 si rewsna ehT"}]', '2026-03-01 12:14:00.123456+00', '2026-03-01 12:14:25.123456+00', 'rater-00-5f2a9c', 'uniform', 0.3333333333333333, 987654335, '[]', 'English', NULL, NULL, 1, '0.1.0', NULL, NULL, '[]', NULL, NULL, NULL, '[]', 'null');
INSERT INTO public.battle VALUES ('v1-battle-07', 'anonymous', 'error', 'generation_error', 'qwen2.5-0.5b-instruct', 'smollm2-360m-instruct', 'You are a helpful assistant.', 'You are a helpful assistant.', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 15: what is 0 + 15?"}, {"role": "assistant", "content": "The answer is 15."}, {"role": "user", "content": "Question 2 of battle 15: what is 1 + 15?"}, {"role": "assistant", "content": "The answer is 16."}]', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 15: what is 0 + 15?"}, {"role": "assistant", "content": ".51 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 15: what is 1 + 15?"}]', '2026-03-01 12:15:00.123456+00', '2026-03-01 12:15:25.123456+00', 'rater-01-5f2a9c', 'uniform', NULL, NULL, '[]', 'English', NULL, NULL, 1, '0.1.0', NULL, NULL, '[]', NULL, NULL, NULL, '[]', 'null');
INSERT INTO public.battle VALUES ('v1-battle-08', 'anonymous', 'abandoned', 'tab_closed', 'qwen2.5-0.5b-instruct', 'smollm2-360m-instruct', 'You are a helpful assistant.', 'You are a helpful assistant.', '[{"role": "system", "content": "You are a helpful assistant."}]', '[{"role": "system", "content": "You are a helpful assistant."}]', '2026-03-01 12:16:00.123456+00', '2026-03-01 12:16:05.123456+00', 'rater-02-5f2a9c', 'uniform', 0.3333333333333333, 987654337, '[]', 'English', NULL, NULL, 1, '0.1.0', NULL, NULL, '[]', NULL, NULL, NULL, '[]', 'null');
INSERT INTO public.battle VALUES ('v1-battle-09', 'named', 'voted', 'vote', 'qwen2.5-0.5b-instruct', 'smollm2-360m-instruct', 'You are a helpful assistant.', 'You are a helpful assistant.', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 17: what is 0 + 17?"}, {"role": "assistant", "content": "The answer is 17."}, {"role": "user", "content": "Question 2 of battle 17: what is 1 + 17?"}, {"role": "assistant", "content": "The answer is 18."}]', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 17: what is 0 + 17?"}, {"role": "assistant", "content": ".71 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 17: what is 1 + 17?"}, {"role": "assistant", "content": ".81 si rewsna ehT"}]', '2026-03-01 12:17:00.123456+00', '2026-03-01 12:17:25.123456+00', 'rater-03-5f2a9c', 'active', 0.3333333333333333, 987654338, '[]', 'English', NULL, NULL, 1, '0.1.0', NULL, NULL, '[]', NULL, NULL, NULL, '[]', 'null');
INSERT INTO public.battle VALUES ('v1-battle-10', 'replay', 'voted', 'vote', 'qwen2.5-0.5b-instruct', 'smollm2-360m-instruct', 'You are a helpful assistant.', 'You are a helpful assistant.', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 18: what is 0 + 18?"}, {"role": "assistant", "content": "The answer is 18."}, {"role": "user", "content": "Question 2 of battle 18: what is 1 + 18?"}, {"role": "assistant", "content": "The answer is 19."}]', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 18: what is 0 + 18?"}, {"role": "assistant", "content": ".81 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 18: what is 1 + 18?"}, {"role": "assistant", "content": ".91 si rewsna ehT"}]', '2026-03-01 12:18:00.123456+00', '2026-03-01 12:18:25.123456+00', 'rater-04-5f2a9c', 'uniform', 0.3333333333333333, 987654339, '[]', 'English', NULL, 'v1-battle-01', 1, '9.9', NULL, NULL, '[]', NULL, NULL, NULL, '[]', 'null');
INSERT INTO public.battle VALUES ('v2-battle-11', 'anonymous', 'voted', 'vote', 'qwen2.5-0.5b-instruct', 'smollm2-360m-instruct', 'You are a helpful assistant.', 'You are a helpful assistant.', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Was ist die Hauptstadt von Frankreich?"}, {"role": "assistant", "content": "The answer is 7."}]', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Was ist die Hauptstadt von Frankreich?"}, {"role": "assistant", "content": ".7 si rewsna ehT"}]', '2026-03-01 12:07:00.123456+00', '2026-03-01 12:07:15.123456+00', 'rater-00-5f2a9c', 'uniform', 0.3333333333333333, 987654328, '[]', 'English', NULL, NULL, 1, '0.1.0', true, '2026-01', '[]', NULL, NULL, NULL, '[]', 'null');
INSERT INTO public.battle VALUES ('v2-battle-12', 'anonymous', 'voted', 'vote', 'qwen2.5-0.5b-instruct', 'smollm2-360m-instruct', 'You are a helpful assistant.', 'You are a helpful assistant.', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 8: what is 0 + 8?"}, {"role": "assistant", "content": "The answer is 8."}, {"role": "user", "content": "Question 2 of battle 8: what is 1 + 8?"}, {"role": "assistant", "content": "The answer is 9."}]', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 8: what is 0 + 8?"}, {"role": "assistant", "content": ".8 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 8: what is 1 + 8?"}, {"role": "assistant", "content": ".9 si rewsna ehT"}]', '2026-03-01 12:08:00.123456+00', '2026-03-01 12:08:25.123456+00', 'rater-01-5f2a9c', 'uniform', 0.3333333333333333, 987654329, '[]', 'English', NULL, NULL, 1, '0.1.0', false, '2026-01', '[]', NULL, NULL, NULL, '[]', 'null');
INSERT INTO public.battle VALUES ('v3-battle-13', 'anonymous', 'voted', 'vote', 'qwen2.5-0.5b-instruct', 'smollm2-360m-instruct', 'You are a helpful assistant.', 'You are a helpful assistant.', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Write a Python function that reverses a list."}, {"role": "assistant", "content": "The answer is 5."}]', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Write a Python function that reverses a list."}, {"role": "assistant", "content": ".5 si rewsna ehT"}]', '2026-03-01 12:05:00.123456+00', '2026-03-01 12:05:15.123456+00', 'rater-05-5f2a9c', 'uniform', 0.3333333333333333, 987654326, '[]', 'en', NULL, NULL, 1, '0.1.0', NULL, NULL, '["code", "lang:en"]', 'heuristic-1', 'preview', 'active', '[]', 'null');
INSERT INTO public.battle VALUES ('v3-battle-14', 'anonymous', 'voted', 'vote', 'qwen2.5-0.5b-instruct', 'smollm2-360m-instruct', 'You are a helpful assistant.', 'You are a helpful assistant.', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Solve x^2 - 4 = 0."}, {"role": "assistant", "content": "The answer is 6."}]', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Solve x^2 - 4 = 0."}, {"role": "assistant", "content": ".6 si rewsna ehT"}]', '2026-03-01 12:06:00.123456+00', '2026-03-01 12:06:15.123456+00', 'rater-06-5f2a9c', 'uniform', 0.3333333333333333, 987654327, '[]', 'en', NULL, NULL, 1, '0.1.0', true, '2026-01', '["lang:en", "math"]', 'heuristic-1', 'active', 'retired', '[]', 'null');
INSERT INTO public.battle VALUES ('v4-battle-15', 'anonymous', 'voted', 'vote', 'alpha', 'beta', 'You are a helpful assistant.', 'You are a helpful assistant.', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Plan a trip."}, {"role": "assistant", "content": "# Plan\n\nSome **bold** words and __more__.\n\n- one\n- two\n1. three\n\n```python\n# not a header\n- not a list\n```\n## Done"}, {"role": "user", "content": "Shorter?"}, {"role": "assistant", "content": "**Yes**: - no list"}]', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Plan a trip."}, {"role": "assistant", "content": "enoD ##\n```\ntsil a ton -\nredaeh a ton #\nnohtyp```\n\neerht .1\nowt -\neno -\n\n.__erom__ dna sdrow **dlob** emoS\n\nnalP #"}, {"role": "user", "content": "Shorter?"}, {"role": "assistant", "content": "tsil on - :**seY**"}]', '2026-03-01 12:00:00.123456+00', '2026-03-01 12:00:25.123456+00', 'rater-00-5f2a9c', 'uniform', 0.3333333333333333, 987654321, '[]', 'English', NULL, NULL, 1, '0.1.0', NULL, NULL, '[]', NULL, NULL, NULL, '[]', 'null');
INSERT INTO public.battle VALUES ('v4-battle-16', 'anonymous', 'voted', 'vote', 'qwen2.5-0.5b-instruct', 'smollm2-360m-instruct', 'You are a helpful assistant.', 'You are a helpful assistant.', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 1: what is 0 + 1?"}, {"role": "assistant", "content": "The answer is 1."}, {"role": "user", "content": "Question 2 of battle 1: what is 1 + 1?"}, {"role": "assistant", "content": "The answer is 2."}]', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 1: what is 0 + 1?"}, {"role": "assistant", "content": ".1 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 1: what is 1 + 1?"}, {"role": "assistant", "content": ".2 si rewsna ehT"}]', '2026-03-01 12:01:00.123456+00', '2026-03-01 12:01:25.123456+00', 'rater-01-5f2a9c', 'uniform', 0.3333333333333333, 987654322, '[]', 'English', NULL, NULL, 1, '0.1.0', NULL, NULL, '[]', NULL, NULL, NULL, '[{"index": 1, "prompt": "Question 1 of battle 2: what is 0 + 2?", "generation_a": {"endpoint": "http://127.0.0.1:8001/v1", "served_model": "qwen2.5-0.5b-instruct", "messages": [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 2: what is 0 + 2?"}], "params": {"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1000, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}, "seed": 1000, "output": "The answer is 2.", "started_at": "2026-03-01T12:02:00.123456+00:00", "first_token_at": "2026-03-01T12:02:00.210456+00:00", "finished_at": "2026-03-01T12:02:01.123706+00:00", "prompt_tokens": 32, "completion_tokens": 4, "finish_reason": "stop", "system_fingerprint": null, "response_model": "qwen2.5-0.5b-instruct", "error": null, "extra": {"usage": {"cached_tokens": 0}}}, "generation_b": {"endpoint": "http://127.0.0.1:8002/v1", "served_model": "smollm2-360m-instruct", "messages": [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 2: what is 0 + 2?"}], "params": {"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1001, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}, "seed": 1001, "output": ".2 si rewsna ehT", "started_at": "2026-03-01T12:02:00.123456+00:00", "first_token_at": "2026-03-01T12:02:00.210456+00:00", "finished_at": "2026-03-01T12:02:01.123706+00:00", "prompt_tokens": 32, "completion_tokens": 4, "finish_reason": "stop", "system_fingerprint": null, "response_model": "smollm2-360m-instruct", "error": null, "extra": {"usage": {"cached_tokens": 0}}}}]', 'null');
INSERT INTO public.battle VALUES ('v4-battle-17', 'judge', 'voted', 'vote', 'qwen2.5-0.5b-instruct', 'smollm2-360m-instruct', 'You are a helpful assistant.', 'You are a helpful assistant.', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 3: what is 0 + 3?"}, {"role": "assistant", "content": "The answer is 3."}]', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 3: what is 0 + 3?"}, {"role": "assistant", "content": ".3 si rewsna ehT"}]', '2026-03-01 12:03:00.123456+00', '2026-03-01 12:03:15.123456+00', 'judge:tiny-a', 'uniform', 0.3333333333333333, 987654324, '[]', 'English', NULL, 'v1-battle-01', 1, '0.1.0', NULL, NULL, '[]', NULL, NULL, NULL, '[]', '{"model": "tiny-a", "template": "pairwise-v1", "template_hash": "sha256:00ff", "order": "original", "raw_output": "A", "choice_logprobs": {"A": -0.1}, "generation": {"endpoint": "http://127.0.0.1:8001/v1", "served_model": "qwen2.5-0.5b-instruct", "messages": [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 3: what is 0 + 3?"}], "params": {"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1000, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}, "seed": 1000, "output": "The answer is 3.", "started_at": "2026-03-01T12:03:00.123456+00:00", "first_token_at": "2026-03-01T12:03:00.210456+00:00", "finished_at": "2026-03-01T12:03:01.123706+00:00", "prompt_tokens": 32, "completion_tokens": 4, "finish_reason": "stop", "system_fingerprint": null, "response_model": "qwen2.5-0.5b-instruct", "error": null, "extra": {"usage": {"cached_tokens": 0}}}, "panel": null}');
INSERT INTO public.battle VALUES ('v4-battle-18', 'anonymous', 'voted', 'vote', 'qwen2.5-0.5b-instruct', 'smollm2-360m-instruct', 'You are a helpful assistant.', 'You are a helpful assistant.', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 4: what is 0 + 4?"}, {"role": "assistant", "content": "The answer is 4."}]', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 4: what is 0 + 4?"}, {"role": "assistant", "content": ".4 si rewsna ehT"}]', '2026-03-01 12:04:00.123456+00', '2026-03-01 12:04:15.123456+00', 'rater-04-5f2a9c', 'uniform', 0.3333333333333333, 987654325, '[]', 'English', NULL, NULL, 1, '0.1.0', NULL, NULL, '[]', NULL, NULL, NULL, '[]', 'null');


--
-- Data for Name: generation; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.generation VALUES ('v1-battle-01', 0, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 9: what is 0 + 9?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1000, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1000, 'The answer is 9.', '2026-03-01 12:09:00.123456+00', '2026-03-01 12:09:00.210456+00', '2026-03-01 12:09:01.123706+00', 32, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-01', 0, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 9: what is 0 + 9?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1001, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1001, '.9 si rewsna ehT', '2026-03-01 12:09:00.123456+00', '2026-03-01 12:09:00.210456+00', '2026-03-01 12:09:01.123706+00', 32, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-02', 0, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 10: what is 0 + 10?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1000, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1000, 'The answer is 10.', '2026-03-01 12:10:00.123456+00', '2026-03-01 12:10:00.210456+00', '2026-03-01 12:10:01.123706+00', 32, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-02', 0, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 10: what is 0 + 10?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1001, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1001, '.01 si rewsna ehT', '2026-03-01 12:10:00.123456+00', '2026-03-01 12:10:00.210456+00', '2026-03-01 12:10:01.123706+00', 32, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-02', 1, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 10: what is 0 + 10?"}, {"role": "assistant", "content": "The answer is 10."}, {"role": "user", "content": "Question 2 of battle 10: what is 1 + 10?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1002, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1002, 'The answer is 11.', '2026-03-01 12:10:10.123456+00', '2026-03-01 12:10:10.210456+00', '2026-03-01 12:10:11.123706+00', 52, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-02', 1, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 10: what is 0 + 10?"}, {"role": "assistant", "content": ".01 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 10: what is 1 + 10?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1003, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1003, '.11 si rewsna ehT', '2026-03-01 12:10:10.123456+00', '2026-03-01 12:10:10.210456+00', '2026-03-01 12:10:11.123706+00', 52, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-02', 2, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 10: what is 0 + 10?"}, {"role": "assistant", "content": "The answer is 10."}, {"role": "user", "content": "Question 2 of battle 10: what is 1 + 10?"}, {"role": "assistant", "content": "The answer is 11."}, {"role": "user", "content": "Question 3 of battle 10: what is 2 + 10?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1004, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1004, 'The answer is 12.', '2026-03-01 12:10:20.123456+00', '2026-03-01 12:10:20.210456+00', '2026-03-01 12:10:21.123706+00', 72, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-02', 2, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 10: what is 0 + 10?"}, {"role": "assistant", "content": ".01 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 10: what is 1 + 10?"}, {"role": "assistant", "content": ".11 si rewsna ehT"}, {"role": "user", "content": "Question 3 of battle 10: what is 2 + 10?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1005, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1005, '.21 si rewsna ehT', '2026-03-01 12:10:20.123456+00', '2026-03-01 12:10:20.210456+00', '2026-03-01 12:10:21.123706+00', 72, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-02', 3, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 10: what is 0 + 10?"}, {"role": "assistant", "content": "The answer is 10."}, {"role": "user", "content": "Question 2 of battle 10: what is 1 + 10?"}, {"role": "assistant", "content": "The answer is 11."}, {"role": "user", "content": "Question 3 of battle 10: what is 2 + 10?"}, {"role": "assistant", "content": "The answer is 12."}, {"role": "user", "content": "Question 4 of battle 10: what is 3 + 10?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1006, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1006, 'The answer is 13.', '2026-03-01 12:10:30.123456+00', '2026-03-01 12:10:30.210456+00', '2026-03-01 12:10:31.123706+00', 92, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-02', 3, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 10: what is 0 + 10?"}, {"role": "assistant", "content": ".01 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 10: what is 1 + 10?"}, {"role": "assistant", "content": ".11 si rewsna ehT"}, {"role": "user", "content": "Question 3 of battle 10: what is 2 + 10?"}, {"role": "assistant", "content": ".21 si rewsna ehT"}, {"role": "user", "content": "Question 4 of battle 10: what is 3 + 10?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1007, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1007, '.31 si rewsna ehT', '2026-03-01 12:10:30.123456+00', '2026-03-01 12:10:30.210456+00', '2026-03-01 12:10:31.123706+00', 92, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-03', 0, 'a', 'http://127.0.0.1:8001/v1', '模型-a', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Erkl\u00e4re \u91cf\u5b50 \ud83e\udd16 \u00ab\u00f1\u00bb \u200b\t\n"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1000, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1000, 'Ответ: ∑ ≠ ∞ 😀', '2026-03-01 12:11:00.123456+00', '2026-03-01 12:11:00.210456+00', '2026-03-01 12:11:01.123706+00', 32, 3, 'stop', NULL, '模型-a', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-03', 0, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Erkl\u00e4re \u91cf\u5b50 \ud83e\udd16 \u00ab\u00f1\u00bb \u200b\t\n"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1001, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1001, '😀 ∞ ≠ ∑ :тевтО', '2026-03-01 12:11:00.123456+00', '2026-03-01 12:11:00.210456+00', '2026-03-01 12:11:01.123706+00', 32, 3, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-03', 1, 'a', 'http://127.0.0.1:8001/v1', '模型-a', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Erkl\u00e4re \u91cf\u5b50 \ud83e\udd16 \u00ab\u00f1\u00bb \u200b\t\n"}, {"role": "assistant", "content": "\u041e\u0442\u0432\u0435\u0442: \u2211 \u2260 \u221e \ud83d\ude00"}, {"role": "user", "content": "\u0438 \u0435\u0449\u0451 ''quoted'' \"twice\""}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1002, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1002, '😀😀😀😀😀😀😀😀😀😀', '2026-03-01 12:11:10.123456+00', '2026-03-01 12:11:10.210456+00', '2026-03-01 12:11:11.123706+00', 52, 2, 'stop', NULL, '模型-a', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-03', 1, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Erkl\u00e4re \u91cf\u5b50 \ud83e\udd16 \u00ab\u00f1\u00bb \u200b\t\n"}, {"role": "assistant", "content": "\ud83d\ude00 \u221e \u2260 \u2211 :\u0442\u0435\u0432\u0442\u041e"}, {"role": "user", "content": "\u0438 \u0435\u0449\u0451 ''quoted'' \"twice\""}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1003, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1003, '😀😀😀😀😀😀😀😀😀😀', '2026-03-01 12:11:10.123456+00', '2026-03-01 12:11:10.210456+00', '2026-03-01 12:11:11.123706+00', 52, 2, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-04', 0, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "user", "content": "Question 1 of battle 12: what is 0 + 12?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1000, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1000, 'The answer is 12.', '2026-03-01 12:12:00.123456+00', '2026-03-01 12:12:00.210456+00', '2026-03-01 12:12:01.123706+00', 22, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-04', 0, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "user", "content": "Question 1 of battle 12: what is 0 + 12?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1001, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1001, '.21 si rewsna ehT', '2026-03-01 12:12:00.123456+00', '2026-03-01 12:12:00.210456+00', '2026-03-01 12:12:01.123706+00', 22, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-04', 1, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "user", "content": "Question 1 of battle 12: what is 0 + 12?"}, {"role": "assistant", "content": "The answer is 12."}, {"role": "user", "content": "Question 2 of battle 12: what is 1 + 12?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1002, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1002, 'The answer is 13.', '2026-03-01 12:12:10.123456+00', '2026-03-01 12:12:10.210456+00', '2026-03-01 12:12:11.123706+00', 42, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-04', 1, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "user", "content": "Question 1 of battle 12: what is 0 + 12?"}, {"role": "assistant", "content": ".21 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 12: what is 1 + 12?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1003, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1003, '.31 si rewsna ehT', '2026-03-01 12:12:10.123456+00', '2026-03-01 12:12:10.210456+00', '2026-03-01 12:12:11.123706+00', 42, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-05', 0, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Question 1 of battle 13: what is 0 + 13?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1000, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1000, 'The answer is 13.', '2026-03-01 12:13:00.123456+00', '2026-03-01 12:13:00.210456+00', '2026-03-01 12:13:01.123706+00', 32, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-05', 0, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "user", "content": "Question 1 of battle 13: what is 0 + 13?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1001, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1001, '.31 si rewsna ehT', '2026-03-01 12:13:00.123456+00', '2026-03-01 12:13:00.210456+00', '2026-03-01 12:13:01.123706+00', 22, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-05', 1, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Question 1 of battle 13: what is 0 + 13?"}, {"role": "assistant", "content": "The answer is 13."}, {"role": "user", "content": "Question 2 of battle 13: what is 1 + 13?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1002, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1002, 'The answer is 14.', '2026-03-01 12:13:10.123456+00', '2026-03-01 12:13:10.210456+00', '2026-03-01 12:13:11.123706+00', 52, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-05', 1, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "user", "content": "Question 1 of battle 13: what is 0 + 13?"}, {"role": "assistant", "content": ".31 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 13: what is 1 + 13?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1003, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1003, '.41 si rewsna ehT', '2026-03-01 12:13:10.123456+00', '2026-03-01 12:13:10.210456+00', '2026-03-01 12:13:11.123706+00', 42, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-06', 0, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 14: what is 0 + 14?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1000, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1000, 'The answer is 14.', '2026-03-01 12:14:00.123456+00', '2026-03-01 12:14:00.210456+00', '2026-03-01 12:14:01.123706+00', 32, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-06', 0, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 14: what is 0 + 14?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1001, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1001, '.41 si rewsna ehT', '2026-03-01 12:14:00.123456+00', '2026-03-01 12:14:00.210456+00', '2026-03-01 12:14:01.123706+00', 32, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-06', 1, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 14: what is 0 + 14?"}, {"role": "assistant", "content": "The answer is 14."}, {"role": "user", "content": "Question 2 of battle 14: what is 1 + 14?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1002, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1002, 'The answer is 15.', '2026-03-01 12:14:10.123456+00', '2026-03-01 12:14:10.210456+00', '2026-03-01 12:14:11.123706+00', 52, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-06', 1, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 14: what is 0 + 14?"}, {"role": "assistant", "content": ".41 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 14: what is 1 + 14?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1003, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1003, '.51 si rewsna ehT', '2026-03-01 12:14:10.123456+00', '2026-03-01 12:14:10.210456+00', '2026-03-01 12:14:11.123706+00', 52, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-07', 0, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 15: what is 0 + 15?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1000, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1000, 'The answer is 15.', '2026-03-01 12:15:00.123456+00', '2026-03-01 12:15:00.210456+00', '2026-03-01 12:15:01.123706+00', 32, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-07', 0, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 15: what is 0 + 15?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1001, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1001, '.51 si rewsna ehT', '2026-03-01 12:15:00.123456+00', '2026-03-01 12:15:00.210456+00', '2026-03-01 12:15:01.123706+00', 32, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-07', 1, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 15: what is 0 + 15?"}, {"role": "assistant", "content": "The answer is 15."}, {"role": "user", "content": "Question 2 of battle 15: what is 1 + 15?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1002, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1002, 'The answer is 16.', '2026-03-01 12:15:10.123456+00', '2026-03-01 12:15:10.210456+00', '2026-03-01 12:15:11.123706+00', 52, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-07', 1, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 15: what is 0 + 15?"}, {"role": "assistant", "content": ".51 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 15: what is 1 + 15?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1003, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1003, '', '2026-03-01 12:15:10.123456+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'HTTP 500 from endpoint: engine died', '{}');
INSERT INTO public.generation VALUES ('v1-battle-09', 0, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 17: what is 0 + 17?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1000, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1000, 'The answer is 17.', '2026-03-01 12:17:00.123456+00', '2026-03-01 12:17:00.210456+00', '2026-03-01 12:17:01.123706+00', 32, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-09', 0, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 17: what is 0 + 17?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1001, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1001, '.71 si rewsna ehT', '2026-03-01 12:17:00.123456+00', '2026-03-01 12:17:00.210456+00', '2026-03-01 12:17:01.123706+00', 32, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-09', 1, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 17: what is 0 + 17?"}, {"role": "assistant", "content": "The answer is 17."}, {"role": "user", "content": "Question 2 of battle 17: what is 1 + 17?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1002, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1002, 'The answer is 18.', '2026-03-01 12:17:10.123456+00', '2026-03-01 12:17:10.210456+00', '2026-03-01 12:17:11.123706+00', 52, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-09', 1, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 17: what is 0 + 17?"}, {"role": "assistant", "content": ".71 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 17: what is 1 + 17?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1003, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1003, '.81 si rewsna ehT', '2026-03-01 12:17:10.123456+00', '2026-03-01 12:17:10.210456+00', '2026-03-01 12:17:11.123706+00', 52, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-10', 0, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 18: what is 0 + 18?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1000, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1000, 'The answer is 18.', '2026-03-01 12:18:00.123456+00', '2026-03-01 12:18:00.210456+00', '2026-03-01 12:18:01.123706+00', 32, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-10', 0, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 18: what is 0 + 18?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1001, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1001, '.81 si rewsna ehT', '2026-03-01 12:18:00.123456+00', '2026-03-01 12:18:00.210456+00', '2026-03-01 12:18:01.123706+00', 32, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-10', 1, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 18: what is 0 + 18?"}, {"role": "assistant", "content": "The answer is 18."}, {"role": "user", "content": "Question 2 of battle 18: what is 1 + 18?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1002, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1002, 'The answer is 19.', '2026-03-01 12:18:10.123456+00', '2026-03-01 12:18:10.210456+00', '2026-03-01 12:18:11.123706+00', 52, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v1-battle-10', 1, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 18: what is 0 + 18?"}, {"role": "assistant", "content": ".81 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 18: what is 1 + 18?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1003, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1003, '.91 si rewsna ehT', '2026-03-01 12:18:10.123456+00', '2026-03-01 12:18:10.210456+00', '2026-03-01 12:18:11.123706+00', 52, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v2-battle-11', 0, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Was ist die Hauptstadt von Frankreich?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1000, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1000, 'The answer is 7.', '2026-03-01 12:07:00.123456+00', '2026-03-01 12:07:00.210456+00', '2026-03-01 12:07:01.123706+00', 32, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v2-battle-11', 0, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Was ist die Hauptstadt von Frankreich?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1001, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1001, '.7 si rewsna ehT', '2026-03-01 12:07:00.123456+00', '2026-03-01 12:07:00.210456+00', '2026-03-01 12:07:01.123706+00', 32, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v2-battle-12', 0, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 8: what is 0 + 8?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1000, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1000, 'The answer is 8.', '2026-03-01 12:08:00.123456+00', '2026-03-01 12:08:00.210456+00', '2026-03-01 12:08:01.123706+00', 32, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v2-battle-12', 0, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 8: what is 0 + 8?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1001, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1001, '.8 si rewsna ehT', '2026-03-01 12:08:00.123456+00', '2026-03-01 12:08:00.210456+00', '2026-03-01 12:08:01.123706+00', 32, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v2-battle-12', 1, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 8: what is 0 + 8?"}, {"role": "assistant", "content": "The answer is 8."}, {"role": "user", "content": "Question 2 of battle 8: what is 1 + 8?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1002, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1002, 'The answer is 9.', '2026-03-01 12:08:10.123456+00', '2026-03-01 12:08:10.210456+00', '2026-03-01 12:08:11.123706+00', 52, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v2-battle-12', 1, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 8: what is 0 + 8?"}, {"role": "assistant", "content": ".8 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 8: what is 1 + 8?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1003, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1003, '.9 si rewsna ehT', '2026-03-01 12:08:10.123456+00', '2026-03-01 12:08:10.210456+00', '2026-03-01 12:08:11.123706+00', 52, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v3-battle-13', 0, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Write a Python function that reverses a list."}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1000, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1000, 'The answer is 5.', '2026-03-01 12:05:00.123456+00', '2026-03-01 12:05:00.210456+00', '2026-03-01 12:05:01.123706+00', 32, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v3-battle-13', 0, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Write a Python function that reverses a list."}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1001, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1001, '.5 si rewsna ehT', '2026-03-01 12:05:00.123456+00', '2026-03-01 12:05:00.210456+00', '2026-03-01 12:05:01.123706+00', 32, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v3-battle-14', 0, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Solve x^2 - 4 = 0."}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1000, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1000, 'The answer is 6.', '2026-03-01 12:06:00.123456+00', '2026-03-01 12:06:00.210456+00', '2026-03-01 12:06:01.123706+00', 32, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v3-battle-14', 0, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Solve x^2 - 4 = 0."}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1001, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1001, '.6 si rewsna ehT', '2026-03-01 12:06:00.123456+00', '2026-03-01 12:06:00.210456+00', '2026-03-01 12:06:01.123706+00', 32, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v4-battle-15', 0, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Plan a trip."}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1000, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1000, '# Plan

Some **bold** words and __more__.

- one
- two
1. three

```python
# not a header
- not a list
```
## Done', '2026-03-01 12:00:00.123456+00', '2026-03-01 12:00:00.210456+00', '2026-03-01 12:00:01.123706+00', 32, 28, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v4-battle-15', 0, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Plan a trip."}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1001, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1001, 'enoD ##
```
tsil a ton -
redaeh a ton #
nohtyp```

eerht .1
owt -
eno -

.__erom__ dna sdrow **dlob** emoS

nalP #', '2026-03-01 12:00:00.123456+00', '2026-03-01 12:00:00.210456+00', '2026-03-01 12:00:01.123706+00', 32, 28, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v4-battle-15', 1, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Plan a trip."}, {"role": "assistant", "content": "# Plan\n\nSome **bold** words and __more__.\n\n- one\n- two\n1. three\n\n```python\n# not a header\n- not a list\n```\n## Done"}, {"role": "user", "content": "Shorter?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1002, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1002, '**Yes**: - no list', '2026-03-01 12:00:10.123456+00', '2026-03-01 12:00:10.210456+00', '2026-03-01 12:00:11.123706+00', 52, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v4-battle-15', 1, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Plan a trip."}, {"role": "assistant", "content": "enoD ##\n```\ntsil a ton -\nredaeh a ton #\nnohtyp```\n\neerht .1\nowt -\neno -\n\n.__erom__ dna sdrow **dlob** emoS\n\nnalP #"}, {"role": "user", "content": "Shorter?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1003, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1003, 'tsil on - :**seY**', '2026-03-01 12:00:10.123456+00', '2026-03-01 12:00:10.210456+00', '2026-03-01 12:00:11.123706+00', 52, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v4-battle-16', 0, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 1: what is 0 + 1?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1000, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1000, 'The answer is 1.', '2026-03-01 12:01:00.123456+00', '2026-03-01 12:01:00.210456+00', '2026-03-01 12:01:01.123706+00', 32, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v4-battle-16', 0, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 1: what is 0 + 1?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1001, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1001, '.1 si rewsna ehT', '2026-03-01 12:01:00.123456+00', '2026-03-01 12:01:00.210456+00', '2026-03-01 12:01:01.123706+00', 32, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v4-battle-16', 1, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 1: what is 0 + 1?"}, {"role": "assistant", "content": "The answer is 1."}, {"role": "user", "content": "Question 2 of battle 1: what is 1 + 1?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1002, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1002, 'The answer is 2.', '2026-03-01 12:01:10.123456+00', '2026-03-01 12:01:10.210456+00', '2026-03-01 12:01:11.123706+00', 52, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v4-battle-16', 1, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 1: what is 0 + 1?"}, {"role": "assistant", "content": ".1 si rewsna ehT"}, {"role": "user", "content": "Question 2 of battle 1: what is 1 + 1?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1003, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1003, '.2 si rewsna ehT', '2026-03-01 12:01:10.123456+00', '2026-03-01 12:01:10.210456+00', '2026-03-01 12:01:11.123706+00', 52, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v4-battle-17', 0, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 3: what is 0 + 3?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1000, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1000, 'The answer is 3.', '2026-03-01 12:03:00.123456+00', '2026-03-01 12:03:00.210456+00', '2026-03-01 12:03:01.123706+00', 32, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v4-battle-17', 0, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 3: what is 0 + 3?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1001, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1001, '.3 si rewsna ehT', '2026-03-01 12:03:00.123456+00', '2026-03-01 12:03:00.210456+00', '2026-03-01 12:03:01.123706+00', 32, 4, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v4-battle-18', 0, 'a', 'http://127.0.0.1:8001/v1', 'qwen2.5-0.5b-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 4: what is 0 + 4?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1000, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1000, 'The answer is 4.', '2026-03-01 12:04:00.123456+00', '2026-03-01 12:04:00.210456+00', '2026-03-01 12:04:01.123706+00', 32, 4, 'stop', NULL, 'qwen2.5-0.5b-instruct', NULL, '{"usage": {"cached_tokens": 0}}');
INSERT INTO public.generation VALUES ('v4-battle-18', 0, 'b', 'http://127.0.0.1:8002/v1', 'smollm2-360m-instruct', '[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Question 1 of battle 4: what is 0 + 4?"}]', '{"temperature": 0.7, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "max_tokens": 512, "seed": 1001, "repetition_penalty": 1.05, "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": ["</s>"]}', 1001, '.4 si rewsna ehT', '2026-03-01 12:04:00.123456+00', NULL, '2026-03-01 12:04:01.123706+00', 32, NULL, 'stop', NULL, 'smollm2-360m-instruct', NULL, '{"usage": {"cached_tokens": 0}}');


--
-- Data for Name: turn; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.turn VALUES ('v1-battle-01', 0, 0, 'Question 1 of battle 9: what is 0 + 9?');
INSERT INTO public.turn VALUES ('v1-battle-02', 0, 0, 'Question 1 of battle 10: what is 0 + 10?');
INSERT INTO public.turn VALUES ('v1-battle-02', 1, 1, 'Question 2 of battle 10: what is 1 + 10?');
INSERT INTO public.turn VALUES ('v1-battle-02', 2, 2, 'Question 3 of battle 10: what is 2 + 10?');
INSERT INTO public.turn VALUES ('v1-battle-02', 3, 3, 'Question 4 of battle 10: what is 3 + 10?');
INSERT INTO public.turn VALUES ('v1-battle-03', 0, 0, 'Erkläre 量子 🤖 «ñ» ​	
');
INSERT INTO public.turn VALUES ('v1-battle-03', 1, 1, 'и ещё ''quoted'' "twice"');
INSERT INTO public.turn VALUES ('v1-battle-04', 0, 0, 'Question 1 of battle 12: what is 0 + 12?');
INSERT INTO public.turn VALUES ('v1-battle-04', 1, 1, 'Question 2 of battle 12: what is 1 + 12?');
INSERT INTO public.turn VALUES ('v1-battle-05', 0, 0, 'Question 1 of battle 13: what is 0 + 13?');
INSERT INTO public.turn VALUES ('v1-battle-05', 1, 1, 'Question 2 of battle 13: what is 1 + 13?');
INSERT INTO public.turn VALUES ('v1-battle-06', 0, 0, 'Question 1 of battle 14: what is 0 + 14?');
INSERT INTO public.turn VALUES ('v1-battle-06', 1, 1, 'Question 2 of battle 14: what is 1 + 14?');
INSERT INTO public.turn VALUES ('v1-battle-07', 0, 0, 'Question 1 of battle 15: what is 0 + 15?');
INSERT INTO public.turn VALUES ('v1-battle-07', 1, 1, 'Question 2 of battle 15: what is 1 + 15?');
INSERT INTO public.turn VALUES ('v1-battle-09', 0, 0, 'Question 1 of battle 17: what is 0 + 17?');
INSERT INTO public.turn VALUES ('v1-battle-09', 1, 1, 'Question 2 of battle 17: what is 1 + 17?');
INSERT INTO public.turn VALUES ('v1-battle-10', 0, 0, 'Question 1 of battle 18: what is 0 + 18?');
INSERT INTO public.turn VALUES ('v1-battle-10', 1, 1, 'Question 2 of battle 18: what is 1 + 18?');
INSERT INTO public.turn VALUES ('v2-battle-11', 0, 0, 'Was ist die Hauptstadt von Frankreich?');
INSERT INTO public.turn VALUES ('v2-battle-12', 0, 0, 'Question 1 of battle 8: what is 0 + 8?');
INSERT INTO public.turn VALUES ('v2-battle-12', 1, 1, 'Question 2 of battle 8: what is 1 + 8?');
INSERT INTO public.turn VALUES ('v3-battle-13', 0, 0, 'Write a Python function that reverses a list.');
INSERT INTO public.turn VALUES ('v3-battle-14', 0, 0, 'Solve x^2 - 4 = 0.');
INSERT INTO public.turn VALUES ('v4-battle-15', 0, 0, 'Plan a trip.');
INSERT INTO public.turn VALUES ('v4-battle-15', 1, 1, 'Shorter?');
INSERT INTO public.turn VALUES ('v4-battle-16', 0, 0, 'Question 1 of battle 1: what is 0 + 1?');
INSERT INTO public.turn VALUES ('v4-battle-16', 1, 1, 'Question 2 of battle 1: what is 1 + 1?');
INSERT INTO public.turn VALUES ('v4-battle-17', 0, 0, 'Question 1 of battle 3: what is 0 + 3?');
INSERT INTO public.turn VALUES ('v4-battle-18', 0, 0, 'Question 1 of battle 4: what is 0 + 4?');


--
-- Data for Name: vote; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.vote VALUES ('v1-battle-01', 'model_a', '2026-03-01 12:09:15.123456+00', '[]', NULL);
INSERT INTO public.vote VALUES ('v1-battle-02', 'model_a', '2026-03-01 12:10:45.123456+00', '[]', NULL);
INSERT INTO public.vote VALUES ('v1-battle-03', 'model_a', '2026-03-01 12:11:25.123456+00', '[]', NULL);
INSERT INTO public.vote VALUES ('v1-battle-04', 'model_a', '2026-03-01 12:12:25.123456+00', '[]', NULL);
INSERT INTO public.vote VALUES ('v1-battle-05', 'model_a', '2026-03-01 12:13:25.123456+00', '[]', NULL);
INSERT INTO public.vote VALUES ('v1-battle-09', 'tie (bothbad)', '2026-03-01 12:17:25.123456+00', '[]', NULL);
INSERT INTO public.vote VALUES ('v1-battle-10', 'tie', '2026-03-01 12:18:25.123456+00', '[]', NULL);
INSERT INTO public.vote VALUES ('v2-battle-11', 'model_a', '2026-03-01 12:07:15.123456+00', '[]', NULL);
INSERT INTO public.vote VALUES ('v2-battle-12', 'model_a', '2026-03-01 12:08:25.123456+00', '[]', NULL);
INSERT INTO public.vote VALUES ('v3-battle-13', 'model_a', '2026-03-01 12:05:15.123456+00', '[]', NULL);
INSERT INTO public.vote VALUES ('v3-battle-14', 'model_a', '2026-03-01 12:06:15.123456+00', '[]', NULL);
INSERT INTO public.vote VALUES ('v4-battle-15', 'model_a', '2026-03-01 12:00:25.123456+00', '[]', NULL);
INSERT INTO public.vote VALUES ('v4-battle-16', 'model_a', '2026-03-01 12:01:25.123456+00', '["more accurate"]', 'Checked the sum.');
INSERT INTO public.vote VALUES ('v4-battle-17', 'model_a', '2026-03-01 12:03:15.123456+00', '[]', NULL);
INSERT INTO public.vote VALUES ('v4-battle-18', 'model_a', '2026-03-01 12:04:15.123456+00', '[]', NULL);


--
-- Name: alembic_version alembic_version_pkc; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alembic_version
    ADD CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num);


--
-- Name: arena_meta arena_meta_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.arena_meta
    ADD CONSTRAINT arena_meta_pkey PRIMARY KEY (key);


--
-- Name: battle battle_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.battle
    ADD CONSTRAINT battle_pkey PRIMARY KEY (battle_id);


--
-- Name: generation generation_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.generation
    ADD CONSTRAINT generation_pkey PRIMARY KEY (battle_id, "position", side);


--
-- Name: turn turn_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.turn
    ADD CONSTRAINT turn_pkey PRIMARY KEY (battle_id, "position");


--
-- Name: vote vote_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.vote
    ADD CONSTRAINT vote_pkey PRIMARY KEY (battle_id);


--
-- Name: ix_battle_mode_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_battle_mode_status ON public.battle USING btree (mode, status);


--
-- Name: ix_battle_started; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_battle_started ON public.battle USING btree (started_at, battle_id);


--
-- Name: generation generation_battle_id_position_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.generation
    ADD CONSTRAINT generation_battle_id_position_fkey FOREIGN KEY (battle_id, "position") REFERENCES public.turn(battle_id, "position") ON DELETE CASCADE;


--
-- Name: turn turn_battle_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.turn
    ADD CONSTRAINT turn_battle_id_fkey FOREIGN KEY (battle_id) REFERENCES public.battle(battle_id) ON DELETE CASCADE;


--
-- Name: vote vote_battle_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.vote
    ADD CONSTRAINT vote_battle_id_fkey FOREIGN KEY (battle_id) REFERENCES public.battle(battle_id) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--


