"""Training data: built-in sets that need no network, image folders, .zip files of images,
Hugging Face datasets and a user's own pairs of pictures.

The package, from the bottom up (each module imports only those above it in this list,
and nothing of gan_space outside the package):

- dataset.py: `Dataset` (what every loader returns) and `DatasetError`;
- decode.py: the one safe decoder: allowed formats, size, pixel and archive limits, reading
  files and .zip members, decoding a picture (every picture that enters goes through it);
- builtin.py: digits, the emoji in two styles (aligned by code point) and the 2-D point sets;
- pool.py: decoding a source's files into rows, in this process or a pool of processes;
- cache.py: the run's data cache (decoded pictures in a memory-mapped file);
- files.py: folders and .zip files of images;
- hub_datasets.py: Hugging Face datasets;
- paired.py: a user's own pairs (A/ and B/ folders, or side-by-side pictures);
- sounds.py: folders and .zip files of sounds, each made into a clip (mono, resampled,
  trimmed or padded, peak-normalised);
- spoken_digits.py: the built-in spoken digits, made by eSpeak NG on first use and cached;
- sound_pictures.py: sounds as spectrogram pictures to train on, with the record that turns
  a picture back into sound;
- sequences.py: sequences of frames for next-frame prediction (animations, numbered frames,
  the built-in moving emoji);
- sources.py: `load_dataset`, the one entry point from a source's name.
"""

from .builtin import (BUILTIN_DATASETS, BUILTIN_IMAGE_SETS, BUILTIN_POINT_SETS, EMOJI_SPRITE, EMOJI_SPRITES,
                      EMOJI_STYLES, MIXTURE_SETS, aligned_rows, builtin_codes, load_digits, load_emoji, load_mixture,
                      mixture_modes, points_dataset)
from .cache import CACHE_META, CACHE_VERSION
from .dataset import DEFAULT_MAX_IMAGES, Dataset, DatasetError
from .decode import (IMAGE_EXTENSIONS, IMAGE_FORMATS, MAX_FILE_BYTES, MAX_IMAGE_PIXELS, MAX_ZIP_MEMBER_BYTES,
                     MAX_ZIP_TOTAL_BYTES, decode_image, fit_picture, open_picture, read_file)
from .files import load_image_folder, load_image_zip
from .hub_datasets import HF_REPO_ID, hub_holds_sounds, load_hf_dataset
from .paired import DIRECTIONS, load_paired
from .pool import ProgressCallback
from .sequences import MOVING_EMOJI_CLIPS, load_sequences, moving_emoji, open_sequences, read_sequence
from .sounds import (DEFAULT_CLIP_SECONDS, DEFAULT_SAMPLE_RATE, SOUND_EXTENSIONS, ClipSettings, decode_sound,
                     load_sound_folder, load_sound_zip, load_sounds, sounds_dataset)
from .spoken_digits import BUILTIN_SOUND_LOADERS, DIGIT_WORDS, SPOKEN_DIGITS, load_spoken_digits
from .sound_pictures import (MEL_SETTINGS, is_sound_source, load_sound_clips, load_sound_pictures, mel_settings_for,
                             mel_settings_of_record, sound_record)
from .sources import (BUILTIN, HUB, LOCAL, MAX_RESOLUTION, UNKNOWN, dataset_kind, dataset_location, is_hub_id,
                      load_dataset)

__all__ = ["BUILTIN_DATASETS", "BUILTIN_IMAGE_SETS", "BUILTIN_POINT_SETS", "EMOJI_SPRITE", "EMOJI_SPRITES",
           "EMOJI_STYLES", "MIXTURE_SETS", "aligned_rows", "builtin_codes", "load_digits", "load_emoji",
           "load_mixture", "mixture_modes", "points_dataset", "CACHE_META",
           "CACHE_VERSION", "DEFAULT_MAX_IMAGES", "Dataset", "DatasetError", "IMAGE_EXTENSIONS", "IMAGE_FORMATS",
           "MAX_FILE_BYTES", "MAX_IMAGE_PIXELS", "MAX_ZIP_MEMBER_BYTES", "MAX_ZIP_TOTAL_BYTES", "decode_image",
           "fit_picture", "open_picture", "read_file", "load_image_folder", "load_image_zip", "HF_REPO_ID",
           "load_hf_dataset", "DIRECTIONS", "load_paired", "MOVING_EMOJI_CLIPS", "load_sequences", "moving_emoji",
           "open_sequences", "read_sequence", "ProgressCallback", "MAX_RESOLUTION", "dataset_kind",
           "load_dataset", "dataset_location", "is_hub_id", "BUILTIN", "LOCAL", "HUB", "UNKNOWN",
           "DEFAULT_CLIP_SECONDS", "DEFAULT_SAMPLE_RATE", "SOUND_EXTENSIONS", "ClipSettings", "decode_sound",
           "load_sound_folder", "load_sound_zip", "load_sounds", "sounds_dataset", "BUILTIN_SOUND_LOADERS",
           "DIGIT_WORDS", "SPOKEN_DIGITS", "load_spoken_digits", "MEL_SETTINGS", "is_sound_source", "load_sound_clips",
           "load_sound_pictures", "mel_settings_for", "mel_settings_of_record", "sound_record", "hub_holds_sounds"]
